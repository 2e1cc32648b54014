using MailAgent.Certificates;
using MailAgent.ConfigApply;
using Microsoft.Extensions.Logging.Abstractions;

namespace MailAgent.Tests.Integration.ConfigApply;

/// <summary>
/// An operator's <c>mailagent apply-config</c> or certbot's deploy hook runs as root; the daemon runs as
/// the service user. What root writes under the service user's directories (the audit log, the staging
/// tree) must stay writable by that user, or the daemon's next apply or audit line fails.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RootRunFileOwnerTests : IDisposable
{
    private const uint Nobody = 65534;
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-owner-").FullName;

    public RootRunFileOwnerTests()
    {
        // The directory the service user owns, as systemd's LogsDirectory= and StateDirectory= make it.
        if (Environment.IsPrivilegedProcess)
            Assert.True(FileOwner.Set(_dir, (Nobody, Nobody)), "chown of the test directory");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [ServerFact("root")]
    public void AuditLog_WrittenByRootIntoTheServiceUsersDirectory_OwnedByThatUser()
    {
        string path = Path.Combine(_dir, "config-audit.log");
        var audit = new ConfigAuditLog(path, TimeProvider.System, NullLogger.Instance);

        audit.WriteCertificateReload("CN=root", "reloaded", "test");

        Assert.Equal((Nobody, Nobody), FileOwner.Of(path));
        Assert.Contains("reloaded", File.ReadAllText(path), StringComparison.Ordinal);
    }

    [ServerFact("root")]
    public void TreeLikeParent_StagingTreeCreatedByRoot_EveryEntryOwnedByTheStateDirectoryOwner()
    {
        string staging = Path.Combine(_dir, "config-apply");
        Directory.CreateDirectory(Path.Combine(staging, "snapshot-1"));
        File.WriteAllText(Path.Combine(staging, "idempotency.json"), "{}");
        File.WriteAllText(Path.Combine(staging, "snapshot-1", "main.cf"), "myhostname = a.example\n");
        Assert.Equal((0u, 0u), FileOwner.Of(Path.Combine(staging, "snapshot-1", "main.cf")));

        FileOwner.TreeLikeParent(staging);

        foreach (var entry in new[] { staging, Path.Combine(staging, "idempotency.json"), Path.Combine(staging, "snapshot-1"), Path.Combine(staging, "snapshot-1", "main.cf") })
            Assert.Equal((Nobody, Nobody), FileOwner.Of(entry));
    }

    [ServerFact("root")]
    public async Task CertificateStore_WrittenByRootLikeTheDeployHook_EveryEntryOwnedByTheStateDirectoryOwner()
    {
        string store = Path.Combine(_dir, "certificates");
        string live = Path.Combine(Directory.CreateTempSubdirectory("mailagent-owner-live-").FullName, "fullchain.pem");
        try
        {
            File.WriteAllText(live, "-----BEGIN CERTIFICATE-----\n");
            var certificates = new CertificateStore(store);

            using (await certificates.LockAsync(TimeProvider.System, CancellationToken.None))
            {
                certificates.SaveLastGood([live], "hash");
                certificates.SaveOutcome(new CertificateOutcome(CertificateReloadResult.Refused, "test", null, null, DateTimeOffset.UtcNow, "hash"));
            }

            var entries = Directory.GetFileSystemEntries(store).Append(store).ToList();
            Assert.Contains(Path.Combine(store, ".lock"), entries);
            Assert.True(entries.Count >= 5, string.Join(", ", entries));
            foreach (var entry in entries)
                Assert.True(FileOwner.Of(entry) == (Nobody, Nobody), $"{entry} is owned by {FileOwner.Of(entry)}");
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(live)!, recursive: true);
        }
    }
}
