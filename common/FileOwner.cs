using System.Runtime.InteropServices;

namespace MailAgent.Common;

/// <summary>Owner and group of a file (statx) and chown(2): the rewritten main.cf keeps its owner; what a root-run command writes for the service user stays that user's.</summary>
internal static class FileOwner
{
    private const int AtFdCwd = -100;
    private const uint MaskBasic = 0x7ff;

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int NativeStatx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);

    [DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int NativeChown([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint owner, uint group);

    /// <summary>uid and gid of <paramref name="path"/>, or null (not Linux, or it cannot be read).</summary>
    public static (uint Uid, uint Gid)? Of(string path)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        var buffer = new byte[256];
        if (NativeStatx(AtFdCwd, path, 0, MaskBasic, buffer) != 0)
            return null;
        return (BitConverter.ToUInt32(buffer, 20), BitConverter.ToUInt32(buffer, 24));
    }

    /// <summary>Gives <paramref name="path"/> that owner and group; false when the system refuses.</summary>
    public static bool Set(string path, (uint Uid, uint Gid) owner) =>
        OperatingSystem.IsLinux() && NativeChown(path, owner.Uid, owner.Gid) == 0;

    /// <summary>
    /// Run as root (an operator's <c>mailagent apply-config</c>, certbot's deploy hook), gives what was
    /// just written under a directory the service user owns that directory's owner and group, so the
    /// daemon, which runs as that user, can still append to the audit log and write its staging files.
    /// As any other user it does nothing: the files are that user's already.
    /// </summary>
    public static void LikeParent(string path)
    {
        if (!Environment.IsPrivilegedProcess || Path.GetDirectoryName(Path.GetFullPath(path)) is not { } parent)
            return;
        if (Of(parent) is { } owner && Of(path) is { } current && current != owner)
            Set(path, owner);
    }

    /// <summary><see cref="LikeParent"/> for <paramref name="directory"/> and everything under it.</summary>
    public static void TreeLikeParent(string directory)
    {
        if (!Environment.IsPrivilegedProcess || !Directory.Exists(directory))
            return;
        LikeParent(directory);
        try
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(directory, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint }))
            {
                if (Path.GetDirectoryName(entry) is { } parent && Of(parent) is { } owner && Of(entry) is { } current && current != owner)
                    Set(entry, owner);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a file that vanished or cannot be read keeps its owner.
        }
    }
}
