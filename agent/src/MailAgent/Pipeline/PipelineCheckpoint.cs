using System.Text.Json;
using System.Text.Json.Serialization;
using MailAgent.LogTailing;
using MailAgent.Metrics;

namespace MailAgent.Pipeline;

/// <summary>
/// Everything the pipeline keeps in the checkpoint: the counts (<see cref="LogStatsCheckpoint"/>) and,
/// beside them, the correlator and the log clock (<see cref="PipelineState"/>), captured at the same line.
/// The tail stores the pipeline's part as an opaque JSON value and never looks inside it.
/// </summary>
internal sealed partial class PipelineCheckpoint(LogProcessor processor, string path, ILogger logger) : ICheckpointState
{
    private readonly LogStatsCheckpoint _stats = new(processor.Stats);

    public void Capture(Checkpoint checkpoint)
    {
        _stats.Capture(checkpoint);
        checkpoint.Pipeline = JsonSerializer.SerializeToElement(processor.CaptureState(), PipelineStateJson.Default.PipelineState);
    }

    public void Restore(Checkpoint checkpoint)
    {
        _stats.Restore(checkpoint);
        PipelineState? state = null;
        try
        {
            if (checkpoint.Pipeline is { ValueKind: JsonValueKind.Object } saved)
                state = saved.Deserialize(PipelineStateJson.Default.PipelineState);
        }
        catch (JsonException)
        {
            // Written by another version: treated as absent below.
        }

        if (state == null || !processor.RestoreState(state))
            LogCorrelationNotRestored(logger, path);
    }

    [LoggerMessage(EventId = 7401, Level = LogLevel.Warning, Message = "The checkpoint for {Path} holds no usable correlation state (written by another version): messages in flight start afresh")]
    private static partial void LogCorrelationNotRestored(ILogger logger, string path);
}

[JsonSerializable(typeof(PipelineState))]
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
internal sealed partial class PipelineStateJson : JsonSerializerContext;
