namespace MailAgent.Metrics;

/// <summary>
/// A counter with a fixed, enumerable set of label combinations, stored as plain longs so the
/// single pipeline thread can count without locks. Exported to prometheus-net on scrape and
/// saved with the log checkpoint, so counts continue across restarts without loss or repeat.
/// </summary>
internal sealed class CounterFamily
{
    public CounterFamily(string name, string help, string[] labelNames, string[][] labelValues, bool zeroFill)
    {
        Name = name;
        Help = help;
        LabelNames = labelNames;
        LabelValues = labelValues;
        ZeroFill = zeroFill;
        Values = new long[labelValues.Length == 0 ? 1 : labelValues.Length];
    }

    public string Name { get; }
    public string Help { get; }
    public string[] LabelNames { get; }
    /// <summary>One row of label values per slot; empty for an unlabelled counter.</summary>
    public string[][] LabelValues { get; }
    /// <summary>Publish every slot, even at zero, so dashboards see the whole set from the start.</summary>
    public bool ZeroFill { get; }
    public long[] Values { get; }

    /// <summary>Builds the slots of a counter labelled by the cross product of the given value sets.</summary>
    public static CounterFamily Product(string name, string help, bool zeroFill, params (string Label, string[] Values)[] labels)
    {
        var rows = new List<string[]> { Array.Empty<string>() };
        foreach (var (_, values) in labels)
        {
            var next = new List<string[]>(rows.Count * values.Length);
            foreach (var row in rows)
            {
                foreach (var v in values)
                    next.Add([.. row, v]);
            }

            rows = next;
        }

        return new CounterFamily(name, help, labels.Select(l => l.Label).ToArray(), labels.Length == 0 ? [] : rows.ToArray(), zeroFill);
    }
}

/// <summary>
/// A histogram kept as per-bucket counts and per-bucket sums. The per-bucket sums let the
/// exporter hand prometheus-net one representative value per bucket (the bucket's mean, which
/// lies inside it), so counts and the total sum stay exact, as long as it reads each bucket's count
/// and sum as of one moment (<see cref="Read"/>).
/// </summary>
internal sealed class HistogramFamily
{
    public HistogramFamily(string name, string help, double[] bounds, string? labelName = null, string[]? labelValues = null)
    {
        Name = name;
        Help = help;
        Bounds = bounds;
        LabelName = labelName;
        LabelValues = labelValues ?? [];
        int children = Math.Max(1, LabelValues.Length);
        Counts = new long[children][];
        Sums = new double[children][];
        for (int i = 0; i < children; i++)
        {
            Counts[i] = new long[bounds.Length + 1];
            Sums[i] = new double[bounds.Length + 1];
        }
    }

    public string Name { get; }
    public string Help { get; }
    public double[] Bounds { get; }
    public string? LabelName { get; }
    public string[] LabelValues { get; }
    public long[][] Counts { get; }
    public double[][] Sums { get; }

    // Odd while the pipeline thread is between a bucket's count and its sum (a sequence lock): a scrape reads
    // both as of one moment (Read), or it could publish a count without its value and lose that value for good.
    private long _writes;

    public void Observe(int child, double value)
    {
        if (double.IsNaN(value) || value < 0)
            return;
        var bounds = Bounds;
        int b = 0;
        while (b < bounds.Length && value > bounds[b])
            b++;
        BeginWrite();
        Counts[child][b]++;
        Sums[child][b] += value;
        EndWrite();
    }

    /// <summary>Before changing counts and sums (one thread writes: the pipeline's).</summary>
    internal void BeginWrite() => Interlocked.Increment(ref _writes);

    internal void EndWrite() => Volatile.Write(ref _writes, _writes + 1);

    /// <summary>One child's bucket counts and sums as of one moment, from any thread.</summary>
    public void Read(int child, Span<long> counts, Span<double> sums)
    {
        var spin = new SpinWait();
        while (true)
        {
            long before = Volatile.Read(ref _writes);
            if ((before & 1) == 0)
            {
                Counts[child].CopyTo(counts);
                Sums[child].CopyTo(sums);
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref _writes) == before)
                    return;
            }

            spin.SpinOnce();
        }
    }

    public static double[] Exponential(double start, double factor, int count)
    {
        var result = new double[count];
        double v = start;
        for (int i = 0; i < count; i++)
        {
            result[i] = v;
            v *= factor;
        }

        return result;
    }
}
