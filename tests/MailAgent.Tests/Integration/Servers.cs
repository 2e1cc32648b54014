namespace MailAgent.Tests.Integration;

/// <summary>
/// The real servers the integration tests start. A test that needs one that is missing is skipped
/// with the reason, except where missing servers must fail (CI=true or MAILAGENT_REQUIRE_SERVERS=1:
/// there `make test` has installed them, so CI never skips). Linked into both test projects.
/// </summary>
internal static class Servers
{
    private static readonly Dictionary<string, Func<string?>> Checks = new(StringComparer.Ordinal)
    {
        ["postfix"] = () => Missing("/usr/sbin/postfix", "/usr/sbin/postconf", "/usr/sbin/postqueue") ?? NotRoot("Postfix's master runs as root"),
        ["opendkim"] = () => Missing("/usr/sbin/opendkim", "/usr/sbin/opendkim-genkey"),
        ["dnsmasq"] = () => Missing("/usr/sbin/dnsmasq"),
        ["pflogsumm"] = () => Missing("/usr/sbin/pflogsumm"),
        ["root"] = () => NotRoot("it acts as root does (chown, another user's files)"),
        ["postgres"] = () => Directory.Exists("/usr/lib/postgresql")
            && Directory.EnumerateDirectories("/usr/lib/postgresql").Any(d => File.Exists(Path.Combine(d, "bin", "postgres")))
            ? null
            : "no /usr/lib/postgresql/*/bin/postgres",
    };

    /// <summary>True where a missing server must fail the test rather than skip it.</summary>
    public static bool Required =>
        string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)
        || Environment.GetEnvironmentVariable("MAILAGENT_REQUIRE_SERVERS") == "1";

    /// <summary>Null when every one of <paramref name="servers"/> is there (or they are required); else why the test is skipped.</summary>
    public static string? SkipReason(IEnumerable<string> servers, bool required)
    {
        if (required)
            return null;
        var reasons = servers.Select(s => Checks.TryGetValue(s, out var check) ? (s, check()) : throw new ArgumentException($"unknown server '{s}'", nameof(servers)))
            .Where(p => p.Item2 != null).Select(p => $"{p.s}: {p.Item2}").ToList();
        return reasons.Count == 0 ? null : $"needs {string.Join("; ", reasons)} (`make deps` installs the servers; CI=true or MAILAGENT_REQUIRE_SERVERS=1 makes this a failure)";
    }

    private static string? Missing(params string[] paths)
    {
        var missing = paths.Where(p => !File.Exists(p)).ToList();
        return missing.Count == 0 ? null : "missing " + string.Join(", ", missing);
    }

    private static string? NotRoot(string why) => Environment.UserName == "root" ? null : $"not root ({why})";
}

/// <summary>A fact that needs real servers ("postfix", "opendkim", "dnsmasq", "pflogsumm", "postgres"); skipped with the reason when one is missing.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ServerFactAttribute : FactAttribute
{
    public ServerFactAttribute(params string[] servers)
    {
        Skip = Servers.SkipReason(servers, Servers.Required);
    }
}

/// <summary>A theory that needs real servers; see <see cref="ServerFactAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ServerTheoryAttribute : TheoryAttribute
{
    public ServerTheoryAttribute(params string[] servers)
    {
        Skip = Servers.SkipReason(servers, Servers.Required);
    }
}
