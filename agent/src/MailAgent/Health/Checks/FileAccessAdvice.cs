using System.Globalization;

namespace MailAgent.Health.Checks;

/// <summary>
/// Words for "this process cannot read that file": the file's mode and the process's identity,
/// so a reason names the permission involved, not just "access denied".
/// </summary>
internal static class FileAccessAdvice
{
    /// <summary>e.g. "mode 0600" (or "mode unknown: ..." when even that cannot be read).</summary>
    public static string Mode(string path)
    {
        if (OperatingSystem.IsWindows())
            return "mode unknown on Windows";
        try
        {
            return "mode " + Octal(File.GetUnixFileMode(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            return "mode unknown: " + e.Message;
        }
    }

    /// <summary>e.g. "uid 998, groups 998 4" from /proc/self/status; empty where there is no /proc.</summary>
    public static string Identity()
    {
        try
        {
            string uid = "?", groups = "";
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                    uid = line[4..].Trim().Split('\t', ' ')[0];
                else if (line.StartsWith("Groups:", StringComparison.Ordinal))
                    groups = string.Join(' ', line[7..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
            }

            return $"uid {uid}, groups {(groups.Length == 0 ? "none" : groups)}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "identity unknown";
        }
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8).PadLeft(3, '0').ToString(CultureInfo.InvariantCulture);
}
