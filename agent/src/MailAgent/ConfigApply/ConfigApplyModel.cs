namespace MailAgent.ConfigApply;

/// <summary>One ApplyConfig request, from gRPC or the CLI; <see cref="Caller"/> is who asked (certificate subject or local:uid/user).</summary>
internal sealed record ConfigApplyRequest(
    IReadOnlyDictionary<string, string> Set, IReadOnlyList<string> Remove, string ExpectedHash, string IdempotencyKey, bool DryRun, string Caller);

internal enum ConfigApplyResult
{
    Applied,
    Unchanged,
    Rejected,
    RolledBack,
    DryRun,
}

/// <summary>One parameter's change; <see cref="OldValue"/> is empty when it was not set explicitly.</summary>
internal sealed record ConfigChange(string Name, string OldValue, string NewValue, bool Removed);

/// <summary>What an apply did; <see cref="ConfigHash"/> is main.cf's SHA-256 afterwards.</summary>
internal sealed record ConfigApplyReply(ConfigApplyResult Result, string Reason, IReadOnlyList<ConfigChange> Diff, string ConfigHash, IReadOnlyList<string> Messages)
{
    public static string Label(ConfigApplyResult result) => result switch
    {
        ConfigApplyResult.Applied => "applied",
        ConfigApplyResult.Unchanged => "unchanged",
        ConfigApplyResult.Rejected => "rejected",
        ConfigApplyResult.RolledBack => "rolled_back",
        _ => "dry_run",
    };
}
