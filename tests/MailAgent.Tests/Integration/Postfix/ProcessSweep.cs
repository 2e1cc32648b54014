using System.Diagnostics;
using System.Text;

namespace MailAgent.Tests.Integration.Postfix;

/// <summary>
/// Finds the processes of one harness instance through /proc by an environment marker only that
/// instance sets, so clean-up can never reach a process it did not start.
/// </summary>
internal static class ProcessSweep
{
    /// <summary>Live (not zombie) processes whose initial environment holds <c>name=value</c>.</summary>
    public static IReadOnlyList<int> FindByEnvironment(string name, string value)
    {
        var marker = Encoding.UTF8.GetBytes($"{name}={value}\0");
        var found = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            byte[] environment;
            try
            {
                environment = File.ReadAllBytes(Path.Combine(directory, "environ"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            if (HasEntry(environment, marker) && IsAlive(pid))
            {
                found.Add(pid);
            }
        }

        return found;
    }

    /// <summary>
    /// False when the process is gone or a zombie. Zombies count as gone: a daemonised Postfix master is
    /// re-parented to PID 1, and not every container's init reaps.
    /// </summary>
    public static bool IsAlive(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        // "pid (comm) S ...": comm may contain spaces and parentheses, the state follows the last ')'.
        var end = stat.LastIndexOf(')');
        return end < 0 || end + 2 >= stat.Length || stat[end + 2] is not ('Z' or 'X');
    }

    /// <summary>The process's start time in clock ticks since boot (field 22 of /proc/pid/stat), or null if it is gone.</summary>
    public static string? StartTime(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // Fields after "(comm)" start at field 3 (state); starttime is field 22.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields.Length > 19 ? fields[19] : null;
    }

    public static void Kill(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // already gone
        }
    }

    private static bool HasEntry(ReadOnlySpan<byte> environment, ReadOnlySpan<byte> entry)
    {
        while (!environment.IsEmpty)
        {
            if (environment.StartsWith(entry))
            {
                return true;
            }

            var next = environment.IndexOf((byte)0);
            if (next < 0)
            {
                return false;
            }

            environment = environment[(next + 1)..];
        }

        return false;
    }
}
