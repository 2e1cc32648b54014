namespace MailControlPlane.Scoring;

/// <summary>A hard cap in force and why.</summary>
internal readonly record struct ScoreCap(int Limit, string Reason);

/// <summary>The five components (0..1) and why each is below 1.</summary>
internal sealed record SoftComponents(double Delivery, double Reputation, double Queue, double Checks, double Host, IReadOnlyList<string> Weak);

/// <summary>
/// Reads an agent's observation into hard caps and soft components. The agent's checks are recognised by name:
/// <list type="bullet">
/// <item><c>postfix</c> unhealthy: the Postfix master is not running → cap 0.</item>
/// <item><c>tls</c> unhealthy (the served certificate is expired, names another host or does not match its key), or its value
/// (days until expiry) ≤ 0 → cap 0; degraded or fewer days than CertificateDaysFull → the checks component.</item>
/// <item><c>milter</c> value (DKIM signing ratio) below DkimBrokenRatio, or milter unhealthy (OpenDKIM refuses connections: nothing is signed) → cap 40.</item>
/// <item><c>dns</c> unhealthy with its DKIM part failing → cap 40. The dns check joins its parts' reasons with "; ", each starting
/// "SPF …", "DKIM: …", "DMARC: …" or "PTR: …"; the DKIM part is failing unless it says "carries the signing key" (healthy) or
/// "cannot read" (resolver trouble, degraded). SPF/PTR/DMARC problems lower the checks component only.</item>
/// <item><c>disk</c> value (free percent of the queue file system) below DiskCapFreePercent → cap 10; otherwise the host component.
/// Without a value: unhealthy → cap 10, degraded → host CheckDegradedValue.</item>
/// <item><c>blocklist</c> unhealthy (a host address listed on Spamhaus ZEN, or the domain on DBL) → cap BlocklistCap [20]. The check
/// joins one answer per list with "; " and marks listings "is LISTED on"; a refused (127.255.255.252/254/255) or failed query
/// makes it degraded, which says nothing about the listing and never caps.</item>
/// <item>Every other check not in ChecksIgnored (log, smtp, …) counts in the checks component by status.</item>
/// </list>
/// </summary>
internal sealed class SignalReader(ScoringOptions options)
{
    private readonly HashSet<string> _ignored = new(options.IgnoredCheckNames(), StringComparer.Ordinal);

    public List<ScoreCap> Caps(AgentObservation observation, DateTimeOffset now)
    {
        var caps = new List<ScoreCap>();
        foreach (var check in observation.Checks)
        {
            switch (check.Name.ToLowerInvariant())
            {
                case "postfix" when check.Status == CheckStatus.Unhealthy:
                    caps.Add(new(0, $"Postfix is not running ({check.Reason})"));
                    break;
                case "tls" when check.Status == CheckStatus.Unhealthy:
                    caps.Add(new(0, $"the served certificate is not usable ({check.Reason})"));
                    break;
                case "tls" when check.Value is <= 0:
                    caps.Add(new(0, $"the served certificate has expired ({check.Reason})"));
                    break;
                case "milter" when check.Value is { } ratio && ratio < options.DkimBrokenRatio:
                    caps.Add(new(options.DkimBrokenCap, $"DKIM broken: {ScoreMath.Percent(ratio)} of messages signed, below {ScoreMath.Percent(options.DkimBrokenRatio)} ({check.Reason})"));
                    break;
                case "milter" when check.Status == CheckStatus.Unhealthy:
                    caps.Add(new(options.DkimBrokenCap, $"DKIM broken: the signing milter does not work ({check.Reason})"));
                    break;
                case "dns" when check.Status == CheckStatus.Unhealthy && DnsDkimFailing(check.Reason) is { } dkim:
                    caps.Add(new(options.DkimBrokenCap, $"DKIM broken: {dkim}"));
                    break;
                case "disk" when check.Value is { } free && free < options.DiskCapFreePercent:
                    caps.Add(new(options.DiskCap, $"the queue file system is nearly full: {ScoreMath.F(free, "0.#")}% free, below {ScoreMath.F(options.DiskCapFreePercent, "0.#")}%"));
                    break;
                case "disk" when check.Value is null && check.Status == CheckStatus.Unhealthy:
                    caps.Add(new(options.DiskCap, $"the queue file system is nearly full ({check.Reason})"));
                    break;
                case "blocklist" when check.Status == CheckStatus.Unhealthy:
                    caps.Add(new(options.BlocklistCap, $"listed on a DNS blocklist: {Listings(check.Reason)}"));
                    break;
            }
        }

        if (observation.ChangeStartedAt is { } started && now - started <= options.ChangeCapDuration)
            caps.Add(new(options.ChangeCap, $"a config apply or certificate reload is in progress (since {ScoreMath.Human(now - started)})"));
        return caps;
    }

    /// <summary>The listings among the blocklist check's answers (the clean and refused ones say nothing about why the cap holds).</summary>
    internal static string Listings(string reason)
    {
        var listed = reason.Split("; ").Where(p => p.Contains(" is LISTED on ", StringComparison.Ordinal)).ToArray();
        return listed.Length > 0 ? string.Join("; ", listed) : reason;
    }

    /// <summary>The DKIM part of the dns check's reason when it reports the published key missing, revoked or not matching; null otherwise.</summary>
    internal static string? DnsDkimFailing(string reason)
    {
        int start = reason.IndexOf("DKIM:", StringComparison.Ordinal);
        if (start < 0)
            return null;
        int end = reason.Length;
        foreach (var next in (ReadOnlySpan<string>)["; SPF ", "; DMARC:", "; PTR:"])
        {
            int i = reason.IndexOf(next, start, StringComparison.Ordinal);
            if (i >= 0 && i < end)
                end = i;
        }

        string part = reason[start..end];
        return part.Contains("carries the signing key", StringComparison.Ordinal) || part.Contains("cannot read", StringComparison.Ordinal)
            ? null
            : part;
    }

    public SoftComponents Components(AgentObservation observation, DeliveryTotals deliveries, long deferredGrowth)
    {
        var weak = new List<string>();
        double delivery = Delivery(deliveries, weak);
        double reputation = Reputation(deliveries, weak);
        double queue = Queue(observation.Queue, deferredGrowth, weak);
        double checks = Checks(observation.Checks, weak);
        double host = Host(observation.Checks, weak);
        return new SoftComponents(delivery, reputation, queue, checks, host, weak);
    }

    /// <summary>
    /// Delivery from the proven server-failure rate: the 95% Wilson lower bound of failures / attempts. No failure proves
    /// nothing (1.0 at 0, 20 or 1,000 attempts); failures count once they are more than chance at this volume.
    /// </summary>
    private double Delivery(DeliveryTotals d, List<string> weak)
    {
        if (d.Attempts == 0 || d.ServerFailures == 0)
            return 1;
        double bound = ScoreMath.WilsonLowerBound(d.ServerFailures, d.Attempts, options.WilsonZ);
        double value = ScoreMath.Linear(bound, options.DeliveryFailureZero, options.DeliveryFailureFull);
        if (value < 1)
        {
            var kinds = new List<string>();
            if (d.Connection > 0) kinds.Add($"{d.Connection} connection");
            if (d.Reputation > 0) kinds.Add($"{d.Reputation} reputation/policy");
            if (d.Tls > 0) kinds.Add($"{d.Tls} TLS");
            if (d.LocalTemporary > 0) kinds.Add($"{d.LocalTemporary} local temporary");
            weak.Add($"delivery {ScoreMath.F(value, "0.00")}: server failures at least {ScoreMath.Percent(bound, "0.0")} (95% lower bound; tolerated up to {ScoreMath.Percent(options.DeliveryFailureFull)}), "
                + $"{d.ServerFailures} server failures in {d.Attempts} attempts"
                + (kinds.Count > 0 ? $" ({string.Join(", ", kinds)})" : ""));
        }

        return value;
    }

    /// <summary>Reputation from the proven refusal rate (4.7.x/5.7.x), its 95% lower bound per 1000 attempts.</summary>
    private double Reputation(DeliveryTotals d, List<string> weak)
    {
        if (d.Attempts == 0 || d.Reputation == 0)
            return 1;
        double perThousand = 1000.0 * ScoreMath.WilsonLowerBound(d.Reputation, d.Attempts, options.WilsonZ);
        double value = 1 - Math.Min(1, perThousand / options.ReputationZeroPerThousand);
        if (value < 1)
            weak.Add($"reputation {ScoreMath.F(value, "0.00")}: at least {ScoreMath.F(perThousand, "0.#")} refusals (4.7.x/5.7.x) per 1000 attempts (95% lower bound; {d.Reputation} of {d.Attempts}; 0 at {ScoreMath.F(options.ReputationZeroPerThousand, "0.#")})");
        return value;
    }

    private double Queue(QueueObservation? queue, long deferredGrowth, List<string> weak)
    {
        if (queue == null)
            return 1;
        double age = ScoreMath.Linear(queue.OldestIncomingOrActiveAge.TotalSeconds, options.QueueAgeZero.TotalSeconds, options.QueueAgeFull.TotalSeconds);
        double growth = deferredGrowth <= 0 ? 1 : 1 - Math.Min(1, (double)deferredGrowth / options.DeferredGrowthZero);
        double active = queue.ActiveLimit > 0
            ? ScoreMath.Linear((double)queue.ActiveMessages / queue.ActiveLimit, options.ActiveFractionZero, options.ActiveFractionFull)
            : 1;
        double value = Math.Min(age, Math.Min(growth, active));
        if (value < 1)
        {
            var why = new List<string>();
            if (age < 1) why.Add($"oldest incoming/active message {ScoreMath.Human(queue.OldestIncomingOrActiveAge)} old");
            if (growth < 1) why.Add($"deferred queue grew by {deferredGrowth} in {ScoreMath.Human(options.DeferredGrowthWindow)}");
            if (active < 1) why.Add($"active queue {queue.ActiveMessages} of limit {queue.ActiveLimit}");
            weak.Add($"queue {ScoreMath.F(value, "0.00")}: {string.Join(", ", why)}");
        }

        return value;
    }

    private double Checks(IReadOnlyList<AgentCheck> checks, List<string> weak)
    {
        double worst = 1;
        string? why = null;
        foreach (var check in checks)
        {
            string name = check.Name.ToLowerInvariant();
            if (_ignored.Contains(name) || name == "disk")
                continue;
            double value = check.Status switch
            {
                CheckStatus.Unhealthy => 0,
                CheckStatus.Degraded => options.CheckDegradedValue,
                _ => 1,
            };
            if (name == "tls" && check.Value is { } days)
                value = Math.Min(value, Math.Clamp(days / options.CertificateDaysFull, 0, 1));
            if (name == "milter" && check.Value is { } ratio)
                value = Math.Min(value, ScoreMath.Linear(ratio, options.DkimBrokenRatio, options.DkimRatioFull));
            if (value < worst)
            {
                worst = value;
                why = $"{name} {check.Status.ToString().ToLowerInvariant()}{(check.Value is { } v ? $" (value {ScoreMath.F(v, "0.##")})" : "")}: {check.Reason}";
            }
        }

        if (why != null)
            weak.Add($"checks {ScoreMath.F(worst, "0.00")}: worst is {why}");
        return worst;
    }

    private double Host(IReadOnlyList<AgentCheck> checks, List<string> weak)
    {
        var disk = checks.FirstOrDefault(c => c.Name.Equals("disk", StringComparison.OrdinalIgnoreCase));
        if (disk == null)
            return 1;
        double value = disk.Value is { } free
            ? ScoreMath.Linear(free, options.DiskFreeZeroPercent, options.DiskFreeFullPercent)
            : disk.Status switch
            {
                CheckStatus.Unhealthy => 0,
                CheckStatus.Degraded => options.CheckDegradedValue,
                _ => 1,
            };
        if (value < 1)
            weak.Add($"host {ScoreMath.F(value, "0.00")}: {(disk.Value is { } f ? $"{ScoreMath.F(f, "0.#")}% free on the queue file system (1 at {ScoreMath.F(options.DiskFreeFullPercent, "0.#")}%, 0 below {ScoreMath.F(options.DiskFreeZeroPercent, "0.#")}%)" : disk.Reason)}");
        return value;
    }
}
