using System.Text.Json;
using System.Text.Json.Serialization;

namespace MailAgent.LogTailing;

/// <summary>
/// Where the tail stands and what it had counted at that point. Saved together in one file,
/// written to a temporary name, flushed and renamed, so a crash leaves either the old or the
/// new checkpoint and counts never run ahead of or behind the offset.
/// </summary>
internal sealed class Checkpoint
{
    public int Version { get; set; } = 1;
    public string Path { get; set; } = "";
    /// <summary>Renamed logs still being read (oldest first), then the log at the path.</summary>
    public List<FilePosition> Files { get; set; } = new();
    public Dictionary<string, long[]> Counters { get; set; } = new();
    public Dictionary<string, long[][]> HistogramCounts { get; set; } = new();
    public Dictionary<string, double[][]> HistogramSums { get; set; } = new();
    public string[][] SignatureLabels { get; set; } = [];
    public long[] Summary { get; set; } = [];
    public double LastLineTime { get; set; }
    /// <summary>
    /// The line consumer's memory besides the counts (the correlator and the log clock), taken at the
    /// same line as the counts and offsets; opaque here, written and read by its <see cref="ICheckpointState"/>.
    /// </summary>
    public JsonElement? Pipeline { get; set; }
    /// <summary><c>mailagent_log_rotations_total</c> by kind.</summary>
    public Dictionary<string, long> Rotations { get; set; } = new();
    /// <summary>Length of the <c>LogTailing:LineDigestFile</c> at this point (when it is on).</summary>
    public long LineDigestLength { get; set; }
    /// <summary><c>mailagent_log_gaps_total</c> by reason.</summary>
    public Dictionary<string, long> Gaps { get; set; } = new();

    public static Checkpoint? Load(string file)
    {
        if (!File.Exists(file))
            return null;
        using var stream = File.OpenRead(file);
        return JsonSerializer.Deserialize(stream, CheckpointJson.Default.Checkpoint);
    }

    public void Save(string file)
    {
        string temp = file + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            JsonSerializer.Serialize(stream, this, CheckpointJson.Default.Checkpoint);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, file, overwrite: true);
    }
}

/// <summary>A file by identity and how far it was read.</summary>
internal sealed class FilePosition
{
    public ulong Device { get; set; }
    public ulong Inode { get; set; }
    public long Offset { get; set; }
    public int PrefixLength { get; set; }
    public ulong PrefixHash { get; set; }

    /// <summary>
    /// Read to its end and listed only as the file the unread live file came after: when it is gone
    /// by the restart, nothing is lost with it.
    /// </summary>
    public bool Finished { get; set; }
}

[JsonSerializable(typeof(Checkpoint))]
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
internal sealed partial class CheckpointJson : JsonSerializerContext;
