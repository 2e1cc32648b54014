using MailAgent.LogTailing;

namespace MailAgent.Metrics;

/// <summary>
/// The counts the checkpoint keeps beside the tail's position, so counters survive a restart
/// without running ahead of or behind the offset. The tail knows only <see cref="ICheckpointState"/>.
/// </summary>
internal sealed class LogStatsCheckpoint(LogStats stats) : ICheckpointState
{
    public void Capture(Checkpoint checkpoint)
    {
        checkpoint.Counters = stats.Counters.Where(c => c != stats.DkimSignatures).ToDictionary(c => c.Name, c => (long[])c.Values.Clone());
        checkpoint.Counters[stats.DkimSignatures.Name] = (long[])stats.DkimSignatures.Values.Clone();
        checkpoint.SignatureLabels = stats.DkimSignatures.LabelValues.Select(l => l ?? []).ToArray();
        checkpoint.HistogramCounts = stats.Histograms.ToDictionary(h => h.Name, h => h.Counts.Select(c => (long[])c.Clone()).ToArray());
        checkpoint.HistogramSums = stats.Histograms.ToDictionary(h => h.Name, h => h.Sums.Select(c => (double[])c.Clone()).ToArray());
        checkpoint.Summary = (long[])stats.Summary.Clone();
        checkpoint.LastLineTime = double.IsNaN(stats.LastLineTime) ? 0 : stats.LastLineTime;
    }

    /// <summary>Puts saved counts back; a family whose shape changed between versions starts from zero.</summary>
    public void Restore(Checkpoint checkpoint)
    {
        foreach (var family in stats.Counters)
        {
            if (family == stats.DkimSignatures)
                continue;
            if (checkpoint.Counters.TryGetValue(family.Name, out var saved) && saved.Length == family.Values.Length)
                saved.CopyTo(family.Values, 0);
        }

        if (checkpoint.Counters.TryGetValue(stats.DkimSignatures.Name, out var signatures))
        {
            for (int i = 0; i < checkpoint.SignatureLabels.Length && i < signatures.Length; i++)
            {
                if (checkpoint.SignatureLabels[i].Length == 2 && signatures[i] > 0)
                    stats.DkimSignatures.Values[stats.RestoreSignatureSlot(checkpoint.SignatureLabels[i][0], checkpoint.SignatureLabels[i][1])] += signatures[i];
            }
        }

        foreach (var h in stats.Histograms)
        {
            if (!checkpoint.HistogramCounts.TryGetValue(h.Name, out var counts) || !checkpoint.HistogramSums.TryGetValue(h.Name, out var sums)
                || counts.Length != h.Counts.Length || sums.Length != h.Sums.Length)
                continue;
            for (int c = 0; c < counts.Length; c++)
            {
                if (counts[c].Length == h.Counts[c].Length && sums[c].Length == h.Sums[c].Length)
                {
                    h.BeginWrite();
                    counts[c].CopyTo(h.Counts[c], 0);
                    sums[c].CopyTo(h.Sums[c], 0);
                    h.EndWrite();
                }
            }
        }

        if (checkpoint.Summary.Length == stats.Summary.Length)
            checkpoint.Summary.CopyTo(stats.Summary, 0);
        if (checkpoint.LastLineTime > 0)
            stats.LastLineTime = checkpoint.LastLineTime;
    }
}
