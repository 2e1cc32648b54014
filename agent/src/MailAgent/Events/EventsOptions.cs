using System.Text;

namespace MailAgent.Events;

/// <summary>
/// Delivery events (section <c>Events</c>): whether recipient addresses leave the agent, and the
/// key that hashes them when they do not.
/// </summary>
internal sealed class EventsOptions
{
    public const string SectionName = "Events";

    /// <summary>Send recipient addresses in clear. Off by default: only the domain and, with a key, an HMAC leave the agent.</summary>
    public bool IncludeRecipients { get; set; }

    /// <summary>Secret for HMAC-SHA256 of recipient addresses (at least 16 characters). Prefer <see cref="RecipientHashKeyFile"/>.</summary>
    public string RecipientHashKey { get; set; } = "";

    /// <summary>File holding the secret (first line, trimmed); readable by the service user only.</summary>
    public string RecipientHashKeyFile { get; set; } = "";

    public const int MinimumKeyLength = 16;

    /// <summary>Binds and checks the section; returns the options with the key loaded.</summary>
    public static EventsOptions Read(IConfiguration config, List<string> errors)
    {
        var options = new EventsOptions();
        try
        {
            config.GetSection(SectionName).Bind(options, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            errors.Add($"{e.Message.TrimEnd('.')}: Events takes IncludeRecipients (true|false), RecipientHashKey (a secret, 16+ characters) or RecipientHashKeyFile (a path)");
            return options;
        }

        options.Validate(errors);
        return options;
    }

    public void Validate(List<string> errors)
    {
        if (RecipientHashKey.Length > 0 && RecipientHashKeyFile.Length > 0)
        {
            errors.Add("Events:RecipientHashKey and Events:RecipientHashKeyFile are both set: use one of them");
            return;
        }

        if (RecipientHashKeyFile.Length > 0)
        {
            try
            {
                string key = File.ReadLines(RecipientHashKeyFile).FirstOrDefault()?.Trim() ?? "";
                if (key.Length < MinimumKeyLength)
                    errors.Add($"Events:RecipientHashKeyFile = '{RecipientHashKeyFile}' holds a key of {key.Length} characters: use at least {MinimumKeyLength} (e.g. openssl rand -hex 32)");
                else
                    LoadedKey = Encoding.UTF8.GetBytes(key);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                errors.Add($"Events:RecipientHashKeyFile = '{RecipientHashKeyFile}' cannot be read: {e.Message}");
            }
        }
        else if (RecipientHashKey.Length > 0)
        {
            if (RecipientHashKey.Length < MinimumKeyLength)
                errors.Add($"Events:RecipientHashKey has {RecipientHashKey.Length} characters: use at least {MinimumKeyLength} (e.g. openssl rand -hex 32)");
            else
                LoadedKey = Encoding.UTF8.GetBytes(RecipientHashKey);
        }
    }

    /// <summary>The HMAC key once validated; null when none is configured.</summary>
    internal byte[]? LoadedKey { get; private set; }
}
