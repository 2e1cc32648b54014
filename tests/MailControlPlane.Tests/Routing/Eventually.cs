using System.Diagnostics;

namespace MailControlPlane.Tests.Routing;

/// <summary>Polls a condition until it holds or a deadline passes; a test never sleeps a fixed time.</summary>
internal static class Eventually
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Runs <paramref name="probe"/> until <paramref name="done"/> accepts its result and returns that
    /// result; after <paramref name="timeout"/> throws a <see cref="TimeoutException"/> whose message is
    /// <paramref name="describe"/> applied to the last result, so a failure says what was seen.
    /// </summary>
    public static async Task<T> UntilAsync<T>(
        Func<CancellationToken, Task<T>> probe,
        Func<T, bool> done,
        TimeSpan timeout,
        Func<T, string> describe,
        CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var last = await probe(cancellationToken);
            if (done(last))
            {
                return last;
            }

            if (Stopwatch.GetElapsedTime(started) >= timeout)
            {
                throw new TimeoutException($"Condition not met within {timeout.TotalSeconds:0.#} s: {describe(last)}");
            }

            await Task.Delay(Interval, cancellationToken);
        }
    }

    /// <summary>Synchronous-probe form of <see cref="UntilAsync{T}(Func{CancellationToken, Task{T}}, Func{T, bool}, TimeSpan, Func{T, string}, CancellationToken)"/>.</summary>
    public static Task<T> UntilAsync<T>(
        Func<T> probe,
        Func<T, bool> done,
        TimeSpan timeout,
        Func<T, string> describe,
        CancellationToken cancellationToken = default) =>
        UntilAsync(_ => Task.FromResult(probe()), done, timeout, describe, cancellationToken);
}
