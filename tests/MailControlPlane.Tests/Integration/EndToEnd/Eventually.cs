using System.Diagnostics;

namespace MailControlPlane.Tests.Integration.EndToEnd;

/// <summary>Polls a condition until it holds or a deadline passes (as tests/MailAgent.Tests/Integration/Postfix/Eventually.cs).</summary>
internal static class Eventually
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    public static async Task<T> UntilAsync<T>(Func<CancellationToken, Task<T>> probe, Func<T, bool> done, TimeSpan timeout, Func<T, string> describe)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var last = await probe(CancellationToken.None);
            if (done(last))
                return last;
            if (Stopwatch.GetElapsedTime(started) >= timeout)
                throw new TimeoutException($"Condition not met within {timeout.TotalSeconds:0.#} s: {describe(last)}");
            await Task.Delay(Interval);
        }
    }

    public static Task<T> UntilAsync<T>(Func<T> probe, Func<T, bool> done, TimeSpan timeout, Func<T, string> describe) =>
        UntilAsync(_ => Task.FromResult(probe()), done, timeout, describe);
}
