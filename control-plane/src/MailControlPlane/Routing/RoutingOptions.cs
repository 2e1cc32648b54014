using System.Globalization;
using static MailAgent.Common.ConfigChecks;

namespace MailControlPlane.Routing;

/// <summary>Where and how the routing table is written (section <c>Routing</c>).</summary>
internal sealed class RoutingOptions
{
    public const string SectionName = "Routing";

    /// <summary>The default state directory; the SQLite file lives there unless <see cref="SqlitePath"/> says otherwise.</summary>
    public const string DefaultStateDirectory = "/var/lib/mailagent-control-plane";

    /// <summary>Npgsql connection string of the platform's database; empty: the embedded SQLite file.</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>The SQLite routing table used when <see cref="ConnectionString"/> is empty.</summary>
    public string SqlitePath { get; set; } = Path.Combine(DefaultStateDirectory, "routing.db");

    /// <summary>At most this long between two write cycles (a published verdict or a queued row wakes the writer sooner).</summary>
    public TimeSpan WriteInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Besides one row per state change, one health-log row per provider this often.</summary>
    public TimeSpan HealthLogInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Health-log rows held while the database is down; when full the oldest is dropped and counted.</summary>
    public int HealthLogBufferSize { get; set; } = 10_000;

    /// <summary>First retry delay after a failed write (doubled per failure, with ±20% jitter).</summary>
    public TimeSpan RetryMinDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest retry delay after failed writes.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The PostgreSQL session advisory lock key that elects the writing replica.</summary>
    public long LeaderLockKey { get; set; } = DefaultLeaderLockKey;

    /// <summary>How often a standby replica tries to take the lock (at most 2 s, so it takes over within seconds).</summary>
    public TimeSpan LeaderRetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Timeout of each database command.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Seed an empty SQLite table with postfix-oregon, postfix-virginia and elastic-email (the stand-alone default).</summary>
    public bool SeedStandalone { get; set; } = true;

    /// <summary>
    /// Inserts the messaging_providers row of an agent's provider when there is none (an email row
    /// with empty credentials, priority after the others, weight 50, health_score 0 until scored).
    /// Off: a missing row is only logged.
    /// </summary>
    public bool CreateMissingProviders { get; set; }

    /// <summary>"mailcprt" in ASCII: a key unlikely to collide with the platform's own advisory locks.</summary>
    public const long DefaultLeaderLockKey = 0x6D61696C63707274;

    public bool UsesPostgres => !string.IsNullOrWhiteSpace(ConnectionString);

    /// <summary>Reads the Routing section (unknown keys are errors) and validates it; errors are appended, one line each.</summary>
    public static RoutingOptions Load(IConfiguration config, List<string> errors)
    {
        var options = new RoutingOptions();
        try
        {
            config.GetSection(SectionName).Bind(options, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            errors.Add($"{e.Message.TrimEnd('.')}: Routing takes ConnectionString, SqlitePath, SeedStandalone and CreateMissingProviders (true|false), HealthLogBufferSize, LeaderLockKey (integers) and WriteInterval, HealthLogInterval, RetryMinDelay, RetryMaxDelay, LeaderRetryInterval, CommandTimeout as hh:mm:ss");
        }

        errors.AddRange(options.Validate());
        return options;
    }

    /// <summary>Checks every value; each error names the key, the value and what is valid.</summary>
    public List<string> Validate()
    {
        var errors = new List<string>();
        if (UsesPostgres)
        {
            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString);
            }
            catch (ArgumentException e)
            {
                errors.Add($"Routing:ConnectionString is not valid ({e.Message}): use an Npgsql connection string, e.g. Host=db;Username=cp;Password=…;Database=platform, or leave it empty for SQLite");
            }
        }
        else if (string.IsNullOrWhiteSpace(SqlitePath))
        {
            errors.Add($"Routing:SqlitePath is empty: set the SQLite file used without PostgreSQL, e.g. {Path.Combine(DefaultStateDirectory, "routing.db")}");
        }

        Range(errors, "Routing:WriteInterval", WriteInterval, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1));
        Range(errors, "Routing:HealthLogInterval", HealthLogInterval, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        Range(errors, "Routing:RetryMinDelay", RetryMinDelay, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(5));
        Range(errors, "Routing:RetryMaxDelay", RetryMaxDelay, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(30));
        Range(errors, "Routing:LeaderRetryInterval", LeaderRetryInterval, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(2));
        Range(errors, "Routing:CommandTimeout", CommandTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
        if (RetryMaxDelay < RetryMinDelay)
        {
            errors.Add($"Routing:RetryMaxDelay = {RetryMaxDelay} is not valid: use at least Routing:RetryMinDelay ({RetryMinDelay})");
        }

        if (HealthLogBufferSize is < 1 or > 10_000_000)
        {
            errors.Add($"Routing:HealthLogBufferSize = {HealthLogBufferSize.ToString(CultureInfo.InvariantCulture)} is not valid: use 1 to 10000000 rows");
        }

        return errors;
    }
}
