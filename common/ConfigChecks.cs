namespace MailAgent.Common;

/// <summary>The checks both daemons' configuration readers share: strict binding with a hint, and ranges.</summary>
internal static class ConfigChecks
{
    /// <summary>Binder options that reject keys the options class does not have.</summary>
    public static void Strict(BinderOptions options) => options.ErrorOnUnknownConfiguration = true;

    /// <summary>Runs one (source-generated) Bind call; a value of the wrong type becomes an error line naming the key, then <paramref name="hint"/>.</summary>
    public static void Bind(Action bind, string hint, List<string> errors)
    {
        try
        {
            bind();
        }
        catch (InvalidOperationException e)
        {
            // The binder names the key ("…at 'LogTailing:PollInterval' to type 'System.TimeSpan'").
            errors.Add($"{e.Message.TrimEnd('.')}: {hint}");
        }
    }

    /// <summary>Adds "KEY = VALUE is not valid: use MIN to MAX" when the value is outside the range.</summary>
    public static void Range(List<string> errors, string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
            errors.Add($"{key} = {value} is not valid: use {min} to {max}");
    }

    /// <summary>Adds "KEY = VALUE is not valid: use 1 to 65535" when <paramref name="port"/> is not a TCP port to connect to.</summary>
    public static void Port(List<string> errors, string key, int port)
    {
        if (port is < 1 or > 65535)
            errors.Add($"{key} = {port} is not valid: use 1 to 65535");
    }
}
