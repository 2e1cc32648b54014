using MailAgent.Hosting;
using MailAgent.Tests.Queue;
using Microsoft.Extensions.Time.Testing;

namespace MailAgent.Tests.Hosting;

/// <summary>Which mappings the start-up release may unmap, and that it does so on this process.</summary>
public sealed class StartupPagesTests
{
    private const string Exe = "/usr/bin/mailagent";

    // Shaped like the Native AOT agent's smaps: headers, code, read-only data, the relro part of the data
    // segment (read-only after relocation, so its relocated pages are anonymous), data, .bss, a library.
    private const string Smaps = """
        55d0c0000000-55d0c002b000 r--p 00000000 fe:00 5399077                    /usr/bin/mailagent
        Size:                172 kB
        Rss:                 172 kB
        Shared_Dirty:          0 kB
        Private_Dirty:         0 kB
        Anonymous:             0 kB
        55d0c002b000-55d0c0bf6000 r-xp 0002b000 fe:00 5399077                    /usr/bin/mailagent
        Size:              12076 kB
        Rss:               10460 kB
        Shared_Dirty:          0 kB
        Private_Dirty:         0 kB
        Anonymous:             0 kB
        55d0c0bf6000-55d0c1278000 r--p 00bf6000 fe:00 5399077                    /usr/bin/mailagent
        Size:               6664 kB
        Rss:                5640 kB
        Shared_Dirty:          0 kB
        Private_Dirty:         0 kB
        Anonymous:             0 kB
        55d0c1668000-55d0c166a000 r--p 01667000 fe:00 5399077                    /usr/bin/mailagent
        Size:                  8 kB
        Rss:                   8 kB
        Shared_Dirty:          0 kB
        Private_Dirty:         8 kB
        Anonymous:             8 kB
        55d0c166a000-55d0c16ba000 rw-p 01669000 fe:00 5399077                    /usr/bin/mailagent
        Size:                320 kB
        Rss:                 320 kB
        Shared_Dirty:          0 kB
        Private_Dirty:       132 kB
        Anonymous:           132 kB
        55d0c16ba000-55d0c1d18000 rw-p 00000000 00:00 0 
        Size:               6520 kB
        Rss:                6388 kB
        Shared_Dirty:          0 kB
        Private_Dirty:      6388 kB
        Anonymous:          6388 kB
        7f9ac837c000-7f9ac84d2000 r-xp 00026000 fe:00 332096                     /usr/lib/x86_64-linux-gnu/libc.so.6
        Size:               1368 kB
        Rss:                1104 kB
        Shared_Dirty:          0 kB
        Private_Dirty:         0 kB
        Anonymous:             0 kB
        VmFlags: rd ex mr mw me sd 
        """;

    [Fact]
    public void Parse_Smaps_ReadsRangePermissionsPathAndCounters()
    {
        var maps = StartupPages.Parse(new StringReader(Smaps));

        Assert.Equal(7, maps.Count);
        var code = maps[1];
        Assert.Equal(0x55d0c002b000UL, code.Start);
        Assert.Equal(0x55d0c0bf6000UL, code.End);
        Assert.Equal("r-xp", code.Permissions);
        Assert.Equal(Exe, code.Path);
        Assert.Equal(10460, code.RssKiB);
        Assert.Equal(0, code.AnonymousKiB);
        Assert.Equal(132, maps[4].AnonymousKiB);
        Assert.Equal("", maps[5].Path);
    }

    [Fact]
    public void Releasable_AllReadOnly_CleanCodeAndDataOfTheExecutableOnly()
    {
        var maps = StartupPages.Parse(new StringReader(Smaps));

        var releasable = StartupPages.Releasable(maps, Exe, codeOnly: false).Select(m => m.Start).ToList();

        // Not the relro page (anonymous: relocated), not the data or .bss, not libc.
        Assert.Equal([0x55d0c0000000UL, 0x55d0c002b000UL, 0x55d0c0bf6000UL], releasable);
    }

    [Fact]
    public void Releasable_CodeOnly_TheExecutableMappingAlone()
    {
        var maps = StartupPages.Parse(new StringReader(Smaps));

        var releasable = StartupPages.Releasable(maps, Exe, codeOnly: true).Select(m => m.Start).ToList();

        Assert.Equal([0x55d0c002b000UL], releasable);
    }

    [Fact]
    public void Releasable_DirtyPageCacheWithoutAnonymous_StillReleasable()
    {
        // A binary copied a moment ago: its page-cache pages are dirty until written back, yet the file's.
        var maps = StartupPages.Parse(new StringReader(Smaps.Replace("Shared_Dirty:          0 kB", "Shared_Dirty:         12 kB", StringComparison.Ordinal)));

        Assert.Equal(3, StartupPages.Releasable(maps, Exe, codeOnly: false).Count());
    }

    [Fact]
    public void Releasable_WithLibraries_TheirCleanReadOnlyMappingsToo()
    {
        // libcrypto, loaded for the TLS and certificate checks, is 3.5 MiB of start-up pages on a mail host.
        var maps = StartupPages.Parse(new StringReader(Smaps + """

            7f9ac8600000-7f9ac8700000 r--p 00000000 fe:00 332500                     /usr/lib/x86_64-linux-gnu/libcrypto.so.3
            Size:               1024 kB
            Rss:                1024 kB
            Anonymous:             0 kB
            7f9ac8700000-7f9ac8710000 r--p 00100000 fe:00 332500                     /usr/lib/x86_64-linux-gnu/libcrypto.so.3
            Size:                 64 kB
            Rss:                  64 kB
            Anonymous:            12 kB
            7f9ac8710000-7f9ac8720000 rw-p 00110000 fe:00 332500                     /usr/lib/x86_64-linux-gnu/libcrypto.so.3
            Size:                 64 kB
            Rss:                  64 kB
            Anonymous:            64 kB
            7f9ac8800000-7f9ac8810000 r--s 00000000 00:01 99                         /memfd:dotnet_ipc_created (deleted)
            Size:                 64 kB
            Rss:                  64 kB
            Anonymous:             0 kB
            7f9ac8900000-7f9ac8910000 r--p 00000000 fe:00 332600                     /usr/lib/x86_64-linux-gnu/libold.so.1 (deleted)
            Size:                 64 kB
            Rss:                  64 kB
            Anonymous:             0 kB
            """));

        var releasable = StartupPages.Releasable(maps, Exe, codeOnly: false, libraries: true).Select(m => m.Start).ToList();

        // The executable's three, libc's code, libcrypto's clean read-only part; not its relocated (anonymous)
        // or writable parts, not a shared mapping, not a library replaced on disk since it was loaded.
        Assert.Equal([0x55d0c0000000UL, 0x55d0c002b000UL, 0x55d0c0bf6000UL, 0x7f9ac837c000UL, 0x7f9ac8600000UL], releasable);
    }

    [Fact]
    public void Releasable_OtherFile_Nothing()
    {
        var maps = StartupPages.Parse(new StringReader(Smaps));

        Assert.Empty(StartupPages.Releasable(maps, "/usr/bin/other", codeOnly: false));
    }

    [Fact]
    public void Release_ThisProcess_AdvisesTheExecutablesReadOnlyMappingsAndRunsOn()
    {
        if (!OperatingSystem.IsLinux())
            return;

        long before = ResidentOfReleasable();

        var released = StartupPages.Release();

        // The test host's executable (dotnet or testhost) has clean code and read-only data mappings.
        Assert.True(released.Mappings >= 1, $"{released.Mappings} mappings released");
        Assert.Equal(0, released.Failed);
        Assert.True(before > 0, "nothing of the executable was resident before");
        // Unmapped: fewer resident pages than before (the host's own code hardly runs during a test).
        Assert.True(ResidentOfReleasable() < before, $"{ResidentOfReleasable()} KiB resident after, {before} KiB before");
    }

    private static long ResidentOfReleasable()
    {
        using var reader = new StreamReader("/proc/self/smaps");
        string exe = new FileInfo("/proc/self/exe").LinkTarget!;
        return StartupPages.Releasable(StartupPages.Parse(reader), exe, codeOnly: false).Sum(m => m.RssKiB);
    }

    [Fact]
    public async Task Service_AfterStartAndAMinuteLater_ReleasesTwiceAndLogs()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_795_827_766));
        var lifetime = new FakeLifetime();
        var logger = new ListLogger<StartupPageRelease>();
        int calls = 0;
        using var service = new StartupPageRelease(lifetime, time, logger, advising =>
        {
            Interlocked.Increment(ref calls);
            advising(1234, 3);
            return new StartupPages.Released(3, 1234, 0);
        });

        await service.StartAsync(CancellationToken.None);
        Assert.Equal(0, Volatile.Read(ref calls));
        lifetime.Start();
        await WaitForAsync(() => logger.Count(7900) == 1);
        time.Advance(StartupPageRelease.Again - TimeSpan.FromSeconds(1));
        Assert.Equal(1, Volatile.Read(ref calls));
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitForAsync(() => logger.Count(7900) == 2);
        await service.StopAsync(CancellationToken.None);

        Assert.Equal(2, Volatile.Read(ref calls));
        Assert.Contains("1234 KiB", logger.Entries[0].Message, StringComparison.Ordinal);
    }

    // The line is written before the pages go: written after, it mapped the logging code (Serilog, date
    // formatting, the console) back in, a few hundred KiB that nothing at idle uses again.
    [Fact]
    public async Task Service_LogsBeforeAdvising()
    {
        var lifetime = new FakeLifetime();
        var logger = new ListLogger<StartupPageRelease>();
        int loggedWhenAdvised = -1;
        using var service = new StartupPageRelease(lifetime, new FakeTimeProvider(), logger, advising =>
        {
            advising(1234, 3);
            Volatile.Write(ref loggedWhenAdvised, logger.Count(7900));
            return new StartupPages.Released(3, 1234, 0);
        });

        await service.StartAsync(CancellationToken.None);
        lifetime.Start();
        await WaitForAsync(() => Volatile.Read(ref loggedWhenAdvised) >= 0);
        await service.StopAsync(CancellationToken.None);

        Assert.Equal(1, loggedWhenAdvised);
        Assert.Equal(1, logger.Count(7900));
    }

    [Fact]
    public async Task Service_MappingsUnreadable_WarnsWithTheReason()
    {
        var lifetime = new FakeLifetime();
        var logger = new ListLogger<StartupPageRelease>();
        using var service = new StartupPageRelease(lifetime, new FakeTimeProvider(), logger, _ => new StartupPages.Released(0, 0, 0, "Permission denied"));

        await service.StartAsync(CancellationToken.None);
        lifetime.Start();
        await WaitForAsync(() => logger.Count(7902) == 1);
        await service.StopAsync(CancellationToken.None);

        Assert.Contains("Permission denied", logger.Entries.Single().Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Service_MadviseRefused_Warns()
    {
        var time = new FakeTimeProvider();
        var lifetime = new FakeLifetime();
        var logger = new ListLogger<StartupPageRelease>();
        using var service = new StartupPageRelease(lifetime, time, logger, _ => new StartupPages.Released(0, 0, 2));

        await service.StartAsync(CancellationToken.None);
        lifetime.Start();
        await WaitForAsync(() => logger.Count(7901) == 1);
        await service.StopAsync(CancellationToken.None);

        Assert.Equal(0, logger.Count(7900));
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 10 s");
            await Task.Delay(20);
        }
    }
}
