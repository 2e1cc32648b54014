namespace MailAgent.Postfix;

/// <summary>Which Postfix instance the agent watches and manages, and its programs (section <c>Postfix</c>).</summary>
internal sealed class PostfixOptions
{
    public const string SectionName = "Postfix";

    /// <summary>The instance's configuration directory, passed as <c>-c DIR</c> to every Postfix program; empty for Postfix's default (/etc/postfix).</summary>
    public string ConfigDirectory { get; set; } = "";

    /// <summary>The postfix command: a name looked up in PATH, or an absolute path.</summary>
    public string PostfixPath { get; set; } = "postfix";

    /// <summary>The postconf command.</summary>
    public string PostconfPath { get; set; } = "postconf";

    /// <summary>The postqueue command.</summary>
    public string PostqueuePath { get; set; } = "postqueue";

    /// <summary>The directory holding main.cf: <see cref="ConfigDirectory"/> or Postfix's default.</summary>
    public string EffectiveConfigDirectory => string.IsNullOrWhiteSpace(ConfigDirectory) ? "/etc/postfix" : ConfigDirectory;

    /// <summary><c>-c DIR</c> when a directory is configured, nothing otherwise, followed by <paramref name="arguments"/>.</summary>
    public IReadOnlyList<string> Arguments(params string[] arguments) =>
        string.IsNullOrWhiteSpace(ConfigDirectory) ? arguments : ["-c", ConfigDirectory, .. arguments];

    /// <summary>Checks the section; each error names the key, the value and what is valid.</summary>
    public static void Validate(PostfixOptions options, List<string> errors)
    {
        foreach (var (key, value, example) in new[]
        {
            ("Postfix:PostfixPath", options.PostfixPath, "/usr/sbin/postfix"),
            ("Postfix:PostconfPath", options.PostconfPath, "/usr/sbin/postconf"),
            ("Postfix:PostqueuePath", options.PostqueuePath, "/usr/sbin/postqueue"),
        })
        {
            if (string.IsNullOrWhiteSpace(value))
                errors.Add($"{key} is empty: set it to the program name (looked up in PATH) or its absolute path, e.g. {example}");
        }

        if (!string.IsNullOrWhiteSpace(options.ConfigDirectory))
        {
            if (!Path.IsPathFullyQualified(options.ConfigDirectory))
                errors.Add($"Postfix:ConfigDirectory = '{options.ConfigDirectory}' is not valid: use an absolute path to a Postfix configuration directory (postfix -c), or leave it empty for Postfix's default");
            else if (!Directory.Exists(options.ConfigDirectory))
                errors.Add($"Postfix:ConfigDirectory = '{options.ConfigDirectory}' does not exist: use the directory holding the instance's main.cf, or leave it empty for Postfix's default");
        }
    }
}
