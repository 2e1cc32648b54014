using System.Net;
using System.Net.Sockets;
using MailAgent.Tests.Integration.Postfix;

namespace MailAgent.Tests.Integration.Doctor;

/// <summary>
/// Debian's dovecot-core as a private instance on loopback, in the foreground: only its auth service,
/// on an inet listener Postfix reaches with smtpd_sasl_path = inet:127.0.0.1:PORT, users from a
/// passwd-file. No mail protocols run.
/// </summary>
internal sealed class PrivateDovecot : IAsyncDisposable
{
    public const string Executable = "/usr/sbin/dovecot";
    private readonly ChildProcess _process;
    private readonly string _dir;

    private PrivateDovecot(ChildProcess process, string dir, int port)
    {
        _process = process;
        _dir = dir;
        AuthPort = port;
    }

    public int AuthPort { get; }

    public static async Task<PrivateDovecot> StartAsync(string user, string password)
    {
        string dir = Directory.CreateTempSubdirectory("mailagent-dovecot-").FullName;
        Directory.CreateDirectory(Path.Combine(dir, "run"));
        Directory.CreateDirectory(Path.Combine(dir, "state"));
        await File.WriteAllTextAsync(Path.Combine(dir, "passwd"), $"{user}:{{PLAIN}}{password}\n");
        int port = LoopbackPorts.Allocate(1)[0];
        string conf = Path.Combine(dir, "dovecot.conf");
        await File.WriteAllTextAsync(conf, $$"""
            base_dir = {{dir}}/run
            state_dir = {{dir}}/state
            log_path = /dev/stderr
            protocols =
            listen = 127.0.0.1
            ssl = no
            disable_plaintext_auth = no
            auth_mechanisms = plain login
            default_internal_user = root
            default_login_user = root
            passdb {
              driver = passwd-file
              args = scheme=PLAIN username_format=%u {{dir}}/passwd
            }
            userdb {
              driver = static
              args = uid=nobody gid=nogroup home={{dir}}
            }
            service auth {
              inet_listener {
                address = 127.0.0.1
                port = {{port}}
              }
            }
            service anvil {
              chroot =
            }
            """);
        var process = ChildProcess.Start("dovecot", Executable, ["-F", "-c", conf], new Dictionary<string, string?>());
        var dovecot = new PrivateDovecot(process, dir, port);
        try
        {
            await Eventually.UntilAsync(
                async ct => process.HasExited || await AcceptsAsync(port, ct),
                done => done,
                TimeSpan.FromSeconds(30),
                _ => $"dovecot auth does not listen on 127.0.0.1:{port}: {process.Describe()}");
            if (process.HasExited)
                throw new InvalidOperationException($"dovecot exited: {process.Describe()}");
            return dovecot;
        }
        catch
        {
            await dovecot.DisposeAsync();
            throw;
        }
    }

    private static async Task<bool> AcceptsAsync(int port, CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }
}
