using System.Runtime.InteropServices;

namespace MailAgent.ConfigApply;

/// <summary>Owner and group of a file (statx) and chown(2): the rewritten main.cf keeps its owner.</summary>
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
}
