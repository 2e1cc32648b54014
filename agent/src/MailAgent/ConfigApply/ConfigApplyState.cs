using System.Text.Json;
using System.Text.Json.Serialization;

namespace MailAgent.ConfigApply;

/// <summary>
/// What the applier remembers across restarts, in <c>idempotency.json</c> in its staging directory
/// (under the state directory): the replies by idempotency key, oldest first, and whether the last
/// rollback left Postfix not serving. Written to a temporary file and renamed.
/// </summary>
internal sealed class ConfigApplyState
{
    public List<StoredReply> Replies { get; set; } = new();

    /// <summary>The last rollback could not verify that Postfix serves again.</summary>
    public bool Recovering { get; set; }

    public static ConfigApplyState Load(string file)
    {
        try
        {
            if (!File.Exists(file))
                return new ConfigApplyState();
            using var stream = File.OpenRead(file);
            return JsonSerializer.Deserialize(stream, ConfigApplyStateJson.Default.ConfigApplyState) ?? new ConfigApplyState();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            return new ConfigApplyState();
        }
    }

    public void Save(string file)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        string temp = file + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, this, ConfigApplyStateJson.Default.ConfigApplyState);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, file, overwrite: true);
    }
}

internal sealed class StoredReply
{
    public string Key { get; set; } = "";
    public ConfigApplyReply? Reply { get; set; }
}

[JsonSerializable(typeof(ConfigApplyState))]
internal sealed partial class ConfigApplyStateJson : JsonSerializerContext;
