namespace MailAgent.Health.Checks;

/// <summary>Free space on the file system that holds the Postfix queue.</summary>
internal sealed class DiskSpaceCheck(HealthOptions options) : IHealthCheck
{
    public string Name => "disk";

    public bool IsSlow => true;

    public Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(options.QueueDirectory))
            return Task.FromResult(HealthCheckResult.Unhealthy($"queue directory {options.QueueDirectory} does not exist"));
        var drive = new DriveInfo(options.QueueDirectory);
        return Task.FromResult(Evaluate(options.QueueDirectory, drive.AvailableFreeSpace, drive.TotalSize, options));
    }

    internal static HealthCheckResult Evaluate(string directory, long free, long total, HealthOptions options)
    {
        double percent = total <= 0 ? 0 : 100.0 * free / total;
        string text = $"{percent:0.#}% free ({free / (1024 * 1024)} MiB) on the file system of {directory}";
        percent = Math.Round(percent, 2);
        if (percent < options.DiskFreeUnhealthyPercent)
            return HealthCheckResult.Unhealthy(text, percent);
        return percent < options.DiskFreeDegradedPercent ? HealthCheckResult.Degraded(text, percent) : HealthCheckResult.Healthy(text, percent);
    }
}
