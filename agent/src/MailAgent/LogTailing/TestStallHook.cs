namespace MailAgent.LogTailing;

/// <summary>
/// A test-only hook that proves the watchdog: when the environment variable
/// <c>MAILAGENT_TEST_STALL_FILE</c> names a file, the tail loop stops going round while that file
/// exists (it neither reads the log nor reports itself alive), so the agent stops pinging systemd's
/// watchdog and fails /health/live. Unset (always, outside tests) it does nothing. Safe: it only
/// waits, on the stop token, and reads nothing but the file's existence.
/// </summary>
internal static class TestStallHook
{
    public const string Variable = "MAILAGENT_TEST_STALL_FILE";

    private static readonly string? File = NullIfEmpty(Environment.GetEnvironmentVariable(Variable));

    /// <summary>Returns at once unless the hook is set and its file exists; then waits until it is gone or stop.</summary>
    public static void WaitWhileStalled(CancellationToken stoppingToken)
    {
        if (File == null)
            return;
        while (System.IO.File.Exists(File) && !stoppingToken.IsCancellationRequested)
            stoppingToken.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(200));
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
