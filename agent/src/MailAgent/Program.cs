using MailAgent.Cli;

var context = new CliContext(
    Console.OpenStandardInput(), Console.OpenStandardOutput(), Console.OpenStandardError(), TimeProvider.System);
return await CommandLine.RunAsync(args, context);
