namespace MailAgent.Tests.Queue;

/// <summary>Writes an executable /bin/sh script that stands in for postqueue.</summary>
internal static class StandInScript
{
    public static string Create(string directory, string body)
    {
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException("stand-in scripts need /bin/sh");
        var path = Path.Combine(directory, $"postqueue-{Guid.NewGuid():N}");
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }
}
