namespace MailAgent.Doctor;

/// <summary>How one go-live item stands.</summary>
internal enum DoctorStatus
{
    Pass,
    Warn,
    Fail,
    Skip,
}

/// <summary>The checklist groups, in the order the deployment guide's go-live list gives them.</summary>
internal static class DoctorGroup
{
    public const string Dns = "DNS";
    public const string Reputation = "Reputation";
    public const string TransportSecurity = "Transport security";
    public const string Services = "Services";
    public const string Host = "Host";
    public const string Platform = "Platform";

    public static IReadOnlyList<string> Order { get; } = [Dns, Reputation, TransportSecurity, Services, Host, Platform];
}

/// <summary>One checked item: its status, why, what was seen, and what to do when it is not a pass.</summary>
internal sealed record DoctorItem(string Group, string Id, string Title, DoctorStatus Status, string Why, IReadOnlyList<string> Evidence, string Fix)
{
    public static DoctorItem Skip(string group, string id, string title, string why, string fix) => new(group, id, title, DoctorStatus.Skip, why, [], fix);
}

/// <summary>Every item, in checklist order; the exit code is 1 when any failed.</summary>
internal sealed record DoctorReport(IReadOnlyList<DoctorItem> Items)
{
    public int ExitCode => Items.Any(i => i.Status == DoctorStatus.Fail) ? 1 : 0;

    public int Count(DoctorStatus status) => Items.Count(i => i.Status == status);
}

/// <summary>One group of items; each runs its items against the real host through seams.</summary>
internal interface IDoctorCheck
{
    Task<IReadOnlyList<DoctorItem>> RunAsync(CancellationToken cancellationToken);
}
