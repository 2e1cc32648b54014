using System.Buffers.Binary;
using System.IO.Compression;
using System.Text.RegularExpressions;

namespace MailAgent.LogTailing;

/// <summary>One rotated log next to the live one: plain or gzip-compressed.</summary>
internal sealed record RotatedFile(string Path, bool Compressed, FileIdentity Identity);

/// <summary>
/// The rotated logs next to the live log, oldest first: logrotate's numbered names
/// (<c>mail.log.2.gz</c> before <c>mail.log.1</c>), then its <c>dateext</c> names
/// (<c>mail.log-20261205</c>, by date), then any other <c>mail.log.*</c>/<c>mail.log-*</c>
/// copy by modification time. A <c>.gz</c> whose uncompressed file is still there is being written
/// and left out. A file is recognised by device and inode while it stays plain, and by the hash of
/// its first bytes and its length once copied or compressed.
/// </summary>
internal static partial class RotatedChain
{
    public static List<RotatedFile> List(string livePath)
    {
        string full = System.IO.Path.GetFullPath(livePath);
        string? dir = System.IO.Path.GetDirectoryName(full);
        string name = System.IO.Path.GetFileName(full);
        var numbered = new List<(long N, RotatedFile File)>();
        var dated = new List<(string Key, RotatedFile File)>();
        var other = new List<(DateTime Modified, string Path, RotatedFile File)>();
        if (dir == null || !Directory.Exists(dir))
            return [];
        foreach (var path in Directory.EnumerateFiles(dir, name + "*"))
        {
            if (path == full || path.Length == full.Length)
                continue;
            string suffix = path[full.Length..];
            if (suffix[0] is not ('.' or '-') || suffix.EndsWith(".tmp", StringComparison.Ordinal))
                continue;
            bool compressed = suffix.EndsWith(".gz", StringComparison.Ordinal);
            if (!compressed && (suffix.EndsWith(".xz", StringComparison.Ordinal) || suffix.EndsWith(".bz2", StringComparison.Ordinal) || suffix.EndsWith(".zst", StringComparison.Ordinal)))
                continue; // not readable here; a gap is reported if the chain needs it
            // gzip removes the file it compresses only once the .gz is complete: while both exist, the .gz is partial.
            if (compressed && File.Exists(path[..^3]))
                continue;
            var identity = FileIdentity.OfPath(path);
            if (identity == null)
                continue;
            var file = new RotatedFile(path, compressed, identity.Value);
            string bare = compressed ? suffix[..^3] : suffix;
            var n = Numbered().Match(bare);
            if (n.Success && long.TryParse(n.Groups[1].Value, out long number))
                numbered.Add((number, file));
            else if (Dated().IsMatch(bare))
                dated.Add((bare, file));
            else
                other.Add((File.GetLastWriteTimeUtc(path), path, file));
        }

        return
        [
            .. numbered.OrderByDescending(f => f.N).Select(f => f.File),
            .. dated.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => f.File),
            .. other.OrderBy(f => f.Modified).ThenBy(f => f.Path, StringComparer.Ordinal).Select(f => f.File),
        ];
    }

    /// <summary>
    /// Index of the file in <paramref name="chain"/> that is the one at <paramref name="position"/>:
    /// the same inode with the same first bytes, else (copied or compressed) the newest with the same
    /// first bytes and at least as long. -1 when none is.
    /// </summary>
    public static int Find(List<RotatedFile> chain, FilePosition position)
    {
        for (int i = 0; i < chain.Count; i++)
        {
            var f = chain[i];
            if (!f.Compressed && f.Identity.Inode == position.Inode && f.Identity.Device == position.Device && Holds(f, position))
                return i;
        }

        // Nothing read from it yet: its first bytes say nothing, only its inode could have told it.
        if (position.PrefixLength == 0)
            return -1;
        for (int i = chain.Count - 1; i >= 0; i--)
        {
            if (Holds(chain[i], position))
                return i;
        }

        return -1;
    }

    /// <summary>The file starts with the bytes read at <paramref name="position"/> and is at least that long.</summary>
    public static bool Holds(RotatedFile file, FilePosition position)
    {
        try
        {
            if (file.Compressed)
            {
                if (UncompressedLength(file.Path) is long length && length < position.Offset)
                    return false;
                using var gz = new GZipStream(File.OpenRead(file.Path), CompressionMode.Decompress);
                var prefix = new byte[position.PrefixLength];
                int got = gz.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
                return got == prefix.Length && OpenLog.Fnv(prefix) == position.PrefixHash;
            }

            using var log = OpenLog.TryOpen(file.Path);
            return log != null && log.Length >= position.Offset && log.PrefixHash(position.PrefixLength) == position.PrefixHash;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// The rotated file as read to its end (<paramref name="length"/> bytes of uncompressed content, as
    /// <see cref="ReadFrom"/> returned), with its first bytes: to name it as the file an unread live file came
    /// after. Null when it cannot be read.
    /// </summary>
    public static FilePosition? EndOf(RotatedFile file, long length)
    {
        try
        {
            var prefix = new byte[(int)Math.Min(1024, Math.Max(0, length))];
            using (Stream stream = file.Compressed
                ? new GZipStream(File.OpenRead(file.Path), CompressionMode.Decompress)
                : new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                if (stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false) < prefix.Length)
                    return null;
            }

            return new FilePosition
            {
                Device = file.Identity.Device,
                Inode = file.Identity.Inode,
                Offset = length,
                PrefixLength = prefix.Length,
                PrefixHash = OpenLog.Fnv(prefix),
                Finished = true,
            };
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Reads <paramref name="file"/> from byte <paramref name="offset"/> (of its uncompressed content) to its end;
    /// returns where that end is (-1 when the file is gone).
    /// </summary>
    public static long ReadFrom(RotatedFile file, long offset, ILineSink sink)
    {
        var splitter = new LineSplitter();
        if (file.Compressed)
        {
            using var gz = new GZipStream(new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete), CompressionMode.Decompress);
            var skip = new byte[64 * 1024];
            long left = offset;
            while (left > 0)
            {
                int n = gz.Read(skip, 0, (int)Math.Min(skip.Length, left));
                if (n <= 0)
                    return offset - left;
                left -= n;
            }

            long read = splitter.ReadAvailable(gz, sink);
            splitter.Flush(sink);
            return offset + read;
        }

        using var log = OpenLog.TryOpen(file.Path);
        if (log == null)
            return -1;
        log.SeekTo(offset);
        long bytes = log.ReadAvailable(sink);
        log.FlushPartial(sink);
        return offset + bytes;
    }

    // gzip's trailer keeps the uncompressed length modulo 2^32 (exact for one member under 4 GiB).
    private static long? UncompressedLength(string path)
    {
        using var stream = File.OpenRead(path);
        if (stream.Length < 18 || stream.Length > uint.MaxValue)
            return null;
        stream.Seek(-4, SeekOrigin.End);
        Span<byte> size = stackalloc byte[4];
        stream.ReadExactly(size);
        return BinaryPrimitives.ReadUInt32LittleEndian(size);
    }

    [GeneratedRegex(@"^\.(\d{1,9})$")]
    private static partial Regex Numbered();

    [GeneratedRegex(@"^[-.]\d{8}")]
    private static partial Regex Dated();
}
