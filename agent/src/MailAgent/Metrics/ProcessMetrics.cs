using Prometheus;

namespace MailAgent.Metrics;

/// <summary>
/// The standard process_* series and a few runtime ones, read from cheap sources on each scrape.
/// prometheus-net's DotNetStats enumerates /proc/self/fd for a handle count on every scrape,
/// which took 70 % of a scrape's time here (measured with dotnet-trace): we leave that out.
/// </summary>
internal static class ProcessMetrics
{
    public static void Register(CollectorRegistry registry, TimeProvider time)
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        var rss = factory.CreateGauge("process_resident_memory_bytes", "Resident memory size in bytes.");
        var cpu = factory.CreateCounter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
        var start = factory.CreateGauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
        var heap = factory.CreateGauge("dotnet_total_memory_bytes", "Bytes the garbage collector believes are allocated.");
        var collections = factory.CreateCounter("dotnet_collection_count_total", "Garbage collections, by generation.", new CounterConfiguration { LabelNames = ["generation"] });
        var threads = factory.CreateGauge("dotnet_threadpool_threads", "Thread pool threads.");
        // Registered during start-up: close enough to the exec time for restart detection.
        start.Set(time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);

        registry.AddBeforeCollectCallback(() =>
        {
            rss.Set(Environment.WorkingSet);
            cpu.IncTo(Environment.CpuUsage.TotalTime.TotalSeconds);
            heap.Set(GC.GetTotalMemory(forceFullCollection: false));
            for (int g = 0; g <= GC.MaxGeneration; g++)
                collections.WithLabels(g.ToString(System.Globalization.CultureInfo.InvariantCulture)).IncTo(GC.CollectionCount(g));
            threads.Set(ThreadPool.ThreadCount);
        });
    }
}
