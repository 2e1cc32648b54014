namespace MailAgent.Cli;

/// <summary>Entry point dispatch for the mailagent commands.</summary>
internal static class CommandLine
{
    public static Task<int> RunAsync(string[] args)
    {
        _ = args;
        return Task.FromResult(0);
    }
}
