using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace MailAgent.LogTailing;

/// <summary>Device and inode of a file: what tells a rotated log from its successor.</summary>
internal readonly record struct FileIdentity(ulong Device, ulong Inode)
{
    public bool IsKnown => Inode != 0;

    /// <summary>Identity of the file at <paramref name="path"/>, or null when it does not exist.</summary>
    public static FileIdentity? OfPath(string path)
    {
        if (OperatingSystem.IsLinux())
            return Statx.OfPath(path, out var id, out _) ? id : null;
        return File.Exists(path) ? new FileIdentity(0, 0) : null;
    }

    /// <summary>Identity of an open file.</summary>
    public static FileIdentity OfHandle(SafeFileHandle handle)
    {
        if (OperatingSystem.IsLinux() && Statx.OfHandle(handle, out var id))
            return id;
        return new FileIdentity(0, 0);
    }

    // statx(2) has one layout on every Linux architecture, unlike struct stat.
    private static class Statx
    {
        private const int AtFdCwd = -100;
        private const int AtEmptyPath = 0x1000;
        private const uint MaskBasic = 0x7ff;

        [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
        private static extern int NativeStatx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);

        public static bool OfPath(string path, out FileIdentity id, out long size)
        {
            var buffer = new byte[256];
            int rc = NativeStatx(AtFdCwd, path, 0, MaskBasic, buffer);
            id = rc == 0 ? Read(buffer) : default;
            size = rc == 0 ? BitConverter.ToInt64(buffer, 40) : -1;
            return rc == 0;
        }

        public static bool OfHandle(SafeFileHandle handle, out FileIdentity id)
        {
            var buffer = new byte[256];
            bool added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                int rc = NativeStatx((int)handle.DangerousGetHandle(), "", AtEmptyPath, MaskBasic, buffer);
                id = rc == 0 ? Read(buffer) : default;
                return rc == 0;
            }
            finally
            {
                if (added)
                    handle.DangerousRelease();
            }
        }

        private static FileIdentity Read(byte[] b)
        {
            ulong inode = BitConverter.ToUInt64(b, 32);
            ulong device = ((ulong)BitConverter.ToUInt32(b, 136) << 32) | BitConverter.ToUInt32(b, 140);
            return new FileIdentity(device, inode);
        }
    }
}
