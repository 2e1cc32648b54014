using System.Globalization;
using System.Runtime.InteropServices;

namespace MailAgent.Hosting;

/// <summary>
/// After start-up, gives back the pages start-up touched and idle does not need: the clean, read-only
/// file-backed pages of the executable and its shared libraries (machine code, and read-only data that no
/// relocation wrote), which start-up touches all over and the kernel then keeps mapped with their neighbours. <c>madvise(MADV_DONTNEED)</c>
/// only unmaps them from this process: they stay in the page cache, and the next use maps them again
/// (a minor fault, no disk read unless the system dropped them meanwhile). A mapping with a single
/// anonymous (copy-on-write) page, or that is writable, is never touched, because there it would throw
/// away data (relocated pointers, .data, .bss). Linux only; elsewhere, and with Memory:ReleaseStartupPages
/// = false, it does nothing.
/// </summary>
internal static partial class StartupPages
{
    private const int MadviseDontNeed = 4;

    /// <summary>One line of <c>/proc/self/smaps</c> with the fields this needs.</summary>
    internal sealed record Mapping(ulong Start, ulong End, string Permissions, string Path)
    {
        public long RssKiB { get; set; }
        public long AnonymousKiB { get; set; }
        public long PrivateDirtyKiB { get; set; }
        public long SharedDirtyKiB { get; set; }
    }

    /// <summary>What <see cref="Release(Action{long, int})"/> did: mappings advised, their resident KiB before, refusals, or why it could not look.</summary>
    internal readonly record struct Released(int Mappings, long ResidentKiB, int Failed, string? Problem = null);

    /// <summary>Parses <c>/proc/PID/smaps</c>.</summary>
    public static List<Mapping> Parse(TextReader smaps)
    {
        var maps = new List<Mapping>();
        Mapping? current = null;
        while (smaps.ReadLine() is { } line)
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            int dash = line.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0 && (colon < 0 || dash < colon) && line.Length > dash + 1 && Uri.IsHexDigit(line[0]))
            {
                var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 5)
                    continue;
                var range = fields[0].Split('-');
                current = new Mapping(
                    ulong.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    ulong.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    fields[1],
                    fields.Length > 5 ? fields[5].Trim() : "");
                maps.Add(current);
                continue;
            }

            if (current is null || colon <= 0)
                continue;
            var key = line.AsSpan(0, colon);
            var rest = line.AsSpan(colon + 1).Trim();
            int space = rest.IndexOf(' ');
            if (space > 0)
                rest = rest[..space];
            if (!long.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out long kib))
                continue;
            switch (key)
            {
                case "Rss": current.RssKiB = kib; break;
                case "Anonymous": current.AnonymousKiB = kib; break;
                case "Private_Dirty": current.PrivateDirtyKiB = kib; break;
                case "Shared_Dirty": current.SharedDirtyKiB = kib; break;
            }
        }

        return maps;
    }

    /// <summary>
    /// The mappings of <paramref name="file"/> that may be released: private, readable, not writable, and without
    /// a single anonymous page. On a private file mapping the anonymous pages are the only ones that differ from
    /// the file (written copies: relocations); every other page is the page cache's, which is what a later access
    /// maps again. Dirty counts are not a reason to skip: a binary copied a moment ago has dirty page-cache pages
    /// until they are written back, and they are still the file's content. <paramref name="codeOnly"/> keeps the
    /// executable (r-x) ones only.
    /// </summary>
    public static IEnumerable<Mapping> Releasable(IEnumerable<Mapping> maps, string file, bool codeOnly, bool libraries = false) =>
        maps.Where(m => (m.Path == file || (libraries && IsSharedLibrary(m.Path)))
            && m.Permissions.Length == 4
            && m.Permissions[0] == 'r' && m.Permissions[1] == '-' && m.Permissions[3] == 'p'
            && (!codeOnly || m.Permissions[2] == 'x')
            && m.AnonymousKiB == 0
            && m.End > m.Start);

    /// <summary>
    /// A shared library's file, as the loader mapped it: an absolute path whose name has ".so", not replaced on
    /// disk since (" (deleted)"); its start-up pages are as reusable as the executable's (libcrypto's
    /// initialisation alone touches 3.5 MiB on a mail host, where TLS and certificate checks load it).
    /// </summary>
    internal static bool IsSharedLibrary(string path) =>
        path.StartsWith('/')
        && !path.EndsWith(" (deleted)", StringComparison.Ordinal)
        && Path.GetFileName(path.AsSpan()) is var name
        && (name.EndsWith(".so", StringComparison.Ordinal) || name.Contains(".so.", StringComparison.Ordinal));

    /// <summary>
    /// Releases the clean read-only pages of this process's executable and shared libraries, code and data (see
    /// the type). <paramref name="advising"/> hears the resident KiB and mapping count once they are known and
    /// before the first page goes, so that what it runs (a log line) is not mapped back in right after.
    /// </summary>
    public static Released Release(Action<long, int>? advising = null)
    {
        if (!OperatingSystem.IsLinux())
            return default;
        string executable;
        List<Mapping> maps;
        try
        {
            executable = new FileInfo("/proc/self/exe").LinkTarget ?? "";
            using var reader = new StreamReader("/proc/self/smaps");
            maps = Parse(reader);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return new Released(0, 0, 0, e.Message);
        }

        var releasable = Releasable(maps, executable, codeOnly: false, libraries: true).ToList();
        if (releasable.Count > 0)
            advising?.Invoke(releasable.Sum(m => m.RssKiB), releasable.Count);
        int count = 0, failed = 0;
        long kib = 0;
        foreach (var m in releasable)
        {
            if (Madvise((nint)m.Start, (nuint)(m.End - m.Start), MadviseDontNeed) == 0)
            {
                count++;
                kib += m.RssKiB;
            }
            else
            {
                failed++;
            }
        }

        return new Released(count, kib, failed);
    }

    [DllImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static extern int Madvise(nint address, nuint length, int advice);
}
