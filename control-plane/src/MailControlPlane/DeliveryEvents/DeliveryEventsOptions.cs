namespace MailControlPlane.DeliveryEvents;

/// <summary>
/// The delivery-events sink (section <c>DeliveryEvents</c>): where the agents' per-recipient
/// outcomes go (the routing database: Routing:ConnectionString, else Routing:SqlitePath), how
/// they are batched and how long they are kept.
/// </summary>
internal sealed class DeliveryEventsOptions
{
    public const string SectionName = "DeliveryEvents";

    /// <summary>Store the events (and the per-agent cursor). Off: the events only feed the scorer, as before.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Rows per INSERT (one transaction with the cursors).</summary>
    public int BatchSize { get; set; } = 1000;

    /// <summary>Longest a received event waits for its batch.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Events between the watch streams and the writer; when full the streams wait (nothing is dropped).</summary>
    public int BufferSize { get; set; } = 20_000;

    /// <summary>Rows older than this many days (by log time) are deleted, once an hour.</summary>
    public int RetentionDays { get; set; } = 30;

    public TimeSpan RetryMinDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The optional signed webhook.</summary>
    public WebhookOptions Webhook { get; set; } = new();

    public static DeliveryEventsOptions Load(IConfiguration config, List<string> errors)
    {
        var options = new DeliveryEventsOptions();
        try
        {
            config.GetSection(SectionName).Bind(options, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            errors.Add($"{e.Message.TrimEnd('.')}: DeliveryEvents takes Enabled (true|false), BatchSize, BufferSize, RetentionDays (numbers), FlushInterval, RetryMinDelay, RetryMaxDelay (hh:mm:ss), Webhook (Url, Secret, SecretFile, CaFile, BatchSize, PollInterval, Timeout, RetryMinDelay, RetryMaxDelay, MaxAttempts)");
            return options;
        }

        if (options.BatchSize is < 1 or > 5000)
            errors.Add($"DeliveryEvents:BatchSize = {options.BatchSize} is not valid: use 1 to 5000");
        if (options.BufferSize < options.BatchSize || options.BufferSize > 1_000_000)
            errors.Add($"DeliveryEvents:BufferSize = {options.BufferSize} is not valid: use BatchSize ({options.BatchSize}) to 1000000");
        if (options.RetentionDays is < 1 or > 3650)
            errors.Add($"DeliveryEvents:RetentionDays = {options.RetentionDays} is not valid: use 1 to 3650");
        if (options.FlushInterval <= TimeSpan.Zero || options.FlushInterval > TimeSpan.FromMinutes(1))
            errors.Add($"DeliveryEvents:FlushInterval = {options.FlushInterval} is not valid: use more than 00:00:00, at most 00:01:00");
        if (options.RetryMinDelay <= TimeSpan.Zero || options.RetryMaxDelay < options.RetryMinDelay)
            errors.Add($"DeliveryEvents:RetryMinDelay = {options.RetryMinDelay} and RetryMaxDelay = {options.RetryMaxDelay} are not valid: use 0 < min <= max");
        options.Webhook.Validate(errors);
        return options;
    }
}
