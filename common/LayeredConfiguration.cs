namespace MailAgent.Common;

/// <summary>
/// The configuration layers both daemons read, later ones winning: a JSON file (--config FILE, or
/// the default file when it exists), environment variables with a prefix, then Section:Key=value
/// arguments. Compiled into the agent and the control plane (linked source, not a library).
/// </summary>
internal static class LayeredConfiguration
{
    public static IConfigurationRoot Build(IReadOnlyList<string> args, string defaultFile, string environmentPrefix, out string? configFile, out List<string> errors)
    {
        errors = [];
        configFile = null;
        var overrides = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] is "--config" or "-c")
            {
                if (i + 1 >= args.Count)
                {
                    errors.Add("--config needs a file name");
                    break;
                }

                configFile = args[++i];
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
                configFile = args[i]["--config=".Length..];
            else if (args[i].Contains('=', StringComparison.Ordinal) && !args[i].StartsWith('-'))
                overrides.Add(args[i]);
            else
                errors.Add($"unexpected argument '{args[i]}': settings are given as Section:Key=value");
        }

        var builder = new ConfigurationBuilder();
        if (configFile != null)
        {
            if (!File.Exists(configFile))
                errors.Add($"--config {configFile}: no such file");
            else
                builder.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
        }
        else if (File.Exists(defaultFile))
        {
            configFile = defaultFile;
            builder.AddJsonFile(defaultFile, optional: true, reloadOnChange: false);
        }

        builder.AddEnvironmentVariables(environmentPrefix);
        // A key given twice takes its last value, like the later sources; keys are case-insensitive.
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var o in overrides)
        {
            int eq = o.IndexOf('=', StringComparison.Ordinal);
            settings[o[..eq].Replace("__", ":", StringComparison.Ordinal)] = o[(eq + 1)..];
        }

        builder.AddInMemoryCollection(settings);
        try
        {
            return builder.Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException)
        {
            errors.Add($"{configFile}: not valid JSON ({e.Message})");
            return new ConfigurationBuilder().Build();
        }
    }
}
