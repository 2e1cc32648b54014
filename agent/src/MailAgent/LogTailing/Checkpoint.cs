using System.Text.Json;
using System.Text.Json.Serialization;
using MailAgent.Metrics;
using MailAgent.Pipeline;

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
    /// <summary>The correlator and the log clock, taken at the same line as the counts and offsets.</summary>
    public PipelineState? Pipeline { get; set; }
    /// <summary><c>mailagent_log_rotations_total</c> by kind.</summary>
    public Dictionary<string, long> Rotations { get; set; } = new();
    /// <summary>Length of the <c>LogTailing:LineDigestFile</c> at this point (when it is on).</summary>
    public long LineDigestLength { get; set; }
    /// <summary><c>mailagent_log_gaps_total</c> by reason.</summary>
    public Dictionary<string, long> Gaps { get; set; } = new();

    public void CaptureStats(LogStats stats)
    {
        Counters = stats.Counters.Where(c => c != stats.DkimSignatures).ToDictionary(c => c.Name, c => (long[])c.Values.Clone());
        Counters[stats.DkimSignatures.Name] = (long[])stats.DkimSignatures.Values.Clone();
        SignatureLabels = stats.DkimSignatures.LabelValues.Select(l => l ?? []).ToArray();
        HistogramCounts = stats.Histograms.ToDictionary(h => h.Name, h => h.Counts.Select(c => (long[])c.Clone()).ToArray());
        HistogramSums = stats.Histograms.ToDictionary(h => h.Name, h => h.Sums.Select(c => (double[])c.Clone()).ToArray());
        Summary = (long[])stats.Summary.Clone();
        LastLineTime = double.IsNaN(stats.LastLineTime) ? 0 : stats.LastLineTime;
    }

    /// <summary>Puts saved counts back; a family whose shape changed between versions starts from zero.</summary>
    public void RestoreStats(LogStats stats)
    {
        foreach (var family in stats.Counters)
        {
            if (family == stats.DkimSignatures)
                continue;
            if (Counters.TryGetValue(family.Name, out var saved) && saved.Length == family.Values.Length)
                saved.CopyTo(family.Values, 0);
        }

        if (Counters.TryGetValue(stats.DkimSignatures.Name, out var signatures))
        {
            for (int i = 0; i < SignatureLabels.Length && i < signatures.Length; i++)
            {
                if (SignatureLabels[i].Length == 2 && signatures[i] > 0)
                    stats.DkimSignatures.Values[stats.RestoreSignatureSlot(SignatureLabels[i][0], SignatureLabels[i][1])] += signatures[i];
            }
        }

        foreach (var h in stats.Histograms)
        {
            if (!HistogramCounts.TryGetValue(h.Name, out var counts) || !HistogramSums.TryGetValue(h.Name, out var sums)
                || counts.Length != h.Counts.Length || sums.Length != h.Sums.Length)
                continue;
            for (int c = 0; c < counts.Length; c++)
            {
                if (counts[c].Length == h.Counts[c].Length && sums[c].Length == h.Sums[c].Length)
                {
                    counts[c].CopyTo(h.Counts[c], 0);
                    sums[c].CopyTo(h.Sums[c], 0);
                }
            }
        }

        if (Summary.Length == stats.Summary.Length)
            Summary.CopyTo(stats.Summary, 0);
        if (LastLineTime > 0)
            stats.LastLineTime = LastLineTime;
    }

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
}

[JsonSerializable(typeof(Checkpoint))]
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
internal sealed partial class CheckpointJson : JsonSerializerContext;
