namespace MailControlPlane.DeliveryEvents;

/// <summary>
/// The optional webhook (section <c>DeliveryEvents:Webhook</c>): signed HTTPS POSTs of the stored
/// events, per agent in id order, at least once. Off while <see cref="Url"/> is empty.
/// </summary>
internal sealed class WebhookOptions
{
    /// <summary>The receiver, <c>https://…</c> (<c>http://</c> only for 127.0.0.1/::1/localhost).</summary>
    public string Url { get; set; } = "";

    /// <summary>The HMAC-SHA256 secret (16+ characters). Prefer <see cref="SecretFile"/>.</summary>
    public string Secret { get; set; } = "";

    /// <summary>File holding the secret (first line, trimmed).</summary>
    public string SecretFile { get; set; } = "";

    /// <summary>Extra PEM CA certificate(s) trusted for the receiver, next to the system's roots. Verification is never switched off.</summary>
    public string CaFile { get; set; } = "";

    public int BatchSize { get; set; } = 500;

    /// <summary>How often an agent with nothing to send looks for new rows.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan RetryMinDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Attempts before a batch is given up (counted as dead letters) and the agent moves on; 0 = retry for ever.</summary>
    public int MaxAttempts { get; set; }

    public bool Enabled => Url.Length > 0;

    /// <summary>Sets the loaded secret directly (tests).</summary>
    internal WebhookOptions WithSecret(string secret)
    {
        LoadedSecret = System.Text.Encoding.UTF8.GetBytes(secret);
        return this;
    }

    internal byte[] LoadedSecret { get; private set; } = [];

    public void Validate(List<string> errors)
    {
        if (!Enabled)
            return;
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri)
            || !(uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback)))
            errors.Add($"DeliveryEvents:Webhook:Url = '{Url}' is not valid: use https://HOST[:PORT]/PATH (http:// only for a loopback receiver)");
        string secret = Secret;
        if (Secret.Length > 0 && SecretFile.Length > 0)
            errors.Add("DeliveryEvents:Webhook:Secret and SecretFile are both set: use one of them");
        else if (SecretFile.Length > 0)
        {
            try
            {
                secret = File.ReadLines(SecretFile).FirstOrDefault()?.Trim() ?? "";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                errors.Add($"DeliveryEvents:Webhook:SecretFile = '{SecretFile}' cannot be read: {e.Message}");
                return;
            }
        }

        if (secret.Length < 16)
            errors.Add("DeliveryEvents:Webhook needs Secret or SecretFile with at least 16 characters (e.g. openssl rand -hex 32)");
        else
            LoadedSecret = System.Text.Encoding.UTF8.GetBytes(secret);
        if (CaFile.Length > 0 && !File.Exists(CaFile))
            errors.Add($"DeliveryEvents:Webhook:CaFile = '{CaFile}' does not exist");
        if (BatchSize is < 1 or > 5000)
            errors.Add($"DeliveryEvents:Webhook:BatchSize = {BatchSize} is not valid: use 1 to 5000");
        if (MaxAttempts < 0)
            errors.Add($"DeliveryEvents:Webhook:MaxAttempts = {MaxAttempts} is not valid: use 0 (for ever) or more");
        if (PollInterval <= TimeSpan.Zero || Timeout <= TimeSpan.Zero || RetryMinDelay <= TimeSpan.Zero || RetryMaxDelay < RetryMinDelay)
            errors.Add("DeliveryEvents:Webhook: PollInterval, Timeout and RetryMinDelay must be positive and RetryMaxDelay at least RetryMinDelay");
    }
}
