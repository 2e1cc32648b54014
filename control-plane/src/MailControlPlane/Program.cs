using MailControlPlane.Cli;

var context = new CliContext(Console.OpenStandardOutput(), Console.OpenStandardError(), TimeProvider.System);
return await CommandLine.RunAsync(args, context);
