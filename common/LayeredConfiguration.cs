using System.Text.Json;

namespace MailAgent.Common;

/// <summary>
/// What a daemon's configuration file may hold: its top-level sections, and the few keys that
/// take an array or object (<c>Section:Key</c>, or a whole section such as the control plane's
/// <c>Agents</c> list); every other key takes a single value.
/// </summary>
internal sealed record ConfigurationShape(string Daemon, IReadOnlyCollection<string> Sections, IReadOnlyCollection<string> Structured)
{
    public bool IsSection(string name) => Sections.Contains(name, StringComparer.OrdinalIgnoreCase) || Structured.Contains(name, StringComparer.OrdinalIgnoreCase);

    public bool IsStructured(string path) => Structured.Contains(path, StringComparer.OrdinalIgnoreCase);
}

/// <summary>
/// The configuration layers both daemons read, later ones winning: a JSON file (--config FILE, or
/// the default file when it exists), environment variables with a prefix, then Section:Key=value
/// arguments. Compiled into the agent and the control plane (linked source, not a library).
/// </summary>
internal static class LayeredConfiguration
{
    public static IConfigurationRoot Build(IReadOnlyList<string> args, string defaultFile, string environmentPrefix, out string? configFile, out List<string> errors,
        ConfigurationShape? shape = null)
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
            else if (CheckJson(configFile, shape, errors))
                builder.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
        }
        else if (File.Exists(defaultFile))
        {
            configFile = defaultFile;
            if (CheckJson(defaultFile, shape, errors))
                builder.AddJsonFile(defaultFile, optional: true, reloadOnChange: false);
        }

        if (shape != null)
        {
            foreach (var o in overrides)
            {
                string section = o[..o.IndexOfAny([':', '='])].Replace("__", ":", StringComparison.Ordinal).Split(':')[0];
                if (!shape.IsSection(section))
                    errors.Add($"'{o}': '{section}' is not a section of the {shape.Daemon}'s settings: use one of {string.Join(", ", shape.Sections.Concat(shape.Structured.Where(x => !x.Contains(':', StringComparison.Ordinal))).Order(StringComparer.Ordinal))}");
            }
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

    /// <summary>
    /// Reads the file as the JSON provider will (comments and trailing commas allowed); adds an
    /// error with the line and position for bad JSON, and with <paramref name="shape"/> one naming
    /// the key for an unknown section or an array or object where a single value belongs.
    /// Returns false when the file cannot be used at all.
    /// </summary>
    private static bool CheckJson(string file, ConfigurationShape? shape, List<string> errors)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add($"{file}: cannot be read ({e.Message})");
            return false;
        }

        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        string section = "";
        string key = "";
        try
        {
            while (reader.Read())
            {
                int depth = reader.CurrentDepth;
                var token = reader.TokenType;
                if (token == JsonTokenType.PropertyName && depth == 1)
                {
                    section = reader.GetString() ?? "";
                    if (shape != null && !shape.IsSection(section))
                        errors.Add($"{file}: {Where(bytes, reader.TokenStartIndex)}: '{section}' is not a section of the {shape.Daemon}'s settings: use one of {string.Join(", ", shape.Sections.Concat(shape.Structured.Where(x => !x.Contains(':', StringComparison.Ordinal))).Order(StringComparer.Ordinal))}");
                }
                else if (token == JsonTokenType.PropertyName && depth == 2)
                    key = reader.GetString() ?? "";
                else if (shape == null || token is JsonTokenType.EndObject or JsonTokenType.EndArray or JsonTokenType.PropertyName || shape.IsStructured(section))
                    continue;
                else if (depth == 1 && token != JsonTokenType.StartObject)
                    errors.Add($"{file}: {Where(bytes, reader.TokenStartIndex)}: {section} is {Describe(token)}; it must be an object of settings, e.g. \"{section}\": {{ \"Key\": \"value\" }}");
                else if (depth == 2 && token is JsonTokenType.StartObject or JsonTokenType.StartArray && !shape.IsStructured(section + ":" + key))
                    errors.Add($"{file}: {Where(bytes, reader.TokenStartIndex)}: {section}:{key} is {Describe(token)}; it takes a single value (a string, number or true/false)");
            }
        }
        catch (JsonException e)
        {
            errors.Add($"{file}: not valid JSON at line {e.LineNumber + 1}, position {e.BytePositionInLine + 1}{(section.Length > 0 ? $" (in {section}{(key.Length > 0 ? ":" + key : "")})" : "")}: {e.Message}");
            return false;
        }

        return true;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        _ => "a single value",
    };

    private static string Where(byte[] bytes, long offset)
    {
        int line = 1;
        long lineStart = 0;
        for (long i = 0; i < offset; i++)
        {
            if (bytes[i] == (byte)'\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        return $"line {line}, position {offset - lineStart + 1}";
    }
}
