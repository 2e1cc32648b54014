using System.Reflection;

// The control plane's commands; `run` and `check-config` come with the host.
string version = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
string command = args.Length > 0 ? args[0] : "help";
using var stdout = new StreamWriter(Console.OpenStandardOutput());
switch (command)
{
    case "version":
        stdout.WriteLine($"mailagent-control-plane {version}");
        return 0;
    default:
        stdout.WriteLine("usage: mailagent-control-plane version");
        return command is "help" or "--help" or "-h" ? 0 : 2;
}
