using MailAgent.Cli;

return await CommandLine.RunAsync(args);
