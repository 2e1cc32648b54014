using System.Security.Cryptography;

namespace MailAgent.Events;

/// <summary>
/// The secret that keys event keys when no <c>Events:RecipientHashKey</c> is configured:
/// 32 random bytes in <c>LogTailing:StateDirectory/event-key.secret</c> (mode 0600), made on the
/// daemon's first start and kept, so a line re-read after a restart gets the same key.
/// </summary>
internal static class EventKeySecret
{
    public const string FileName = "event-key.secret";

    /// <summary>Reads the secret, creating it when missing.</summary>
    public static byte[] LoadOrCreate(string stateDirectory)
    {
        string path = Path.Combine(stateDirectory, FileName);
        var existing = TryRead(stateDirectory);
        if (existing != null)
            return existing;
        Directory.CreateDirectory(stateDirectory);
        byte[] secret = RandomNumberGenerator.GetBytes(32);
        string temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var f = new FileStream(temp, options))
        {
            f.Write(secret);
            f.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: false);
        return secret;
    }

    /// <summary>The stored secret, or null when there is none (or it cannot be read).</summary>
    public static byte[]? TryRead(string stateDirectory)
    {
        try
        {
            byte[] b = File.ReadAllBytes(Path.Combine(stateDirectory, FileName));
            return b.Length == 32 ? b : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
