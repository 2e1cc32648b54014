using System.Globalization;
using System.Text;

namespace MailAgent.Tests.Integration.Postfix;

/// <summary>
/// The configuration files of a private instance, as pure functions of its layout: main.cf, master.cf,
/// the transport map, and OpenDKIM's files.
/// </summary>
internal static class PrivatePostfixConfig
{
    /// <summary>Path of the private key as OpenDKIM sees it inside its mount namespace.</summary>
    public const string NamespaceKeyDirectory = "/dev/opendkim-keys";

    public static string MainCf(PrivatePostfixLayout layout, PrivatePostfixOptions options)
    {
        var settings = new List<(string Name, string Value, string? Why)>
        {
            ("compatibility_level", "3.6", null),
            // An instance of its own: queue, data and log all under the throwaway root.
            ("queue_directory", layout.QueueDirectory, null),
            ("data_directory", layout.DataDirectory, "created by 'postfix start' (post-install) owned by mail_owner"),
            ("mail_owner", "postfix", null),
            ("setgid_group", "postdrop", null),
            ("maillog_file", layout.LogPath, "written by postlogd (the postlog service in master.cf); no syslog needed"),
            ("maillog_file_prefixes", layout.LogDirectory, "the default (/var, /dev/stdout) refuses a file under /tmp"),
            ("myhostname", "mail." + PrivatePostfix.SigningDomain, "explicit, so Postfix never looks the host name up"),
            ("mydomain", PrivatePostfix.SigningDomain, null),
            ("myorigin", "$mydomain", null),
            ("biff", "no", null),
            ("append_dot_mydomain", "no", null),
            ("readme_directory", "no", null),
            // Nothing is delivered locally and nothing leaves loopback.
            ("mydestination", "", null),
            ("relay_domains", "", null),
            ("local_recipient_maps", "", null),
            ("alias_maps", "", "the default (hash:/etc/aliases, nis:mail.aliases) logs errors when absent"),
            ("alias_database", "", null),
            ("local_transport", "error:no local delivery in tests", null),
            ("relay_transport", "error:no relay delivery in tests", null),
            ("default_transport", "error:no external delivery in tests", "a domain missing from transport_maps bounces here instead of going out"),
            ("relayhost", "", null),
            ("transport_maps", "texthash:" + layout.TransportMapPath, "texthash needs no postmap"),
            ("inet_interfaces", "127.0.0.1", null),
            ("inet_protocols", "ipv4", null),
            ("mynetworks", "127.0.0.0/8", null),
            ("smtpd_relay_restrictions", "permit_mynetworks, reject_unauth_destination", null),
            // No DNS anywhere: literal [127.0.0.1]:port next hops, native (files) lookups, no reverse lookups.
            ("smtp_dns_support_level", "disabled", null),
            ("smtp_host_lookup", "native", null),
            ("smtpd_peername_lookup", "no", "clients log as unknown[127.0.0.1]; no PTR query even without /etc/hosts"),
            ("smtp_bind_address", "127.0.0.1", null),
            ("smtp_tls_security_level", "none", null),
            ("smtpd_tls_security_level", options.TlsChainFile is null ? "none" : "may", null),
            ("smtp_connect_timeout", "5s", null),
            // Deferred mail is retried within seconds.
            ("queue_run_delay", Seconds(options.QueueRunDelay), null),
            ("minimal_backoff_time", Seconds(options.MinimalBackoffTime), null),
            ("maximal_backoff_time", Seconds(options.MaximalBackoffTime), null),
            // OpenDKIM signs what smtpd receives and what pickup (sendmail) receives.
            ("smtpd_milters", options.MilterOnUnixSocket ? $"unix:{layout.OpenDkimSocketPath}" : $"inet:127.0.0.1:{layout.Ports.Milter}", null),
            ("non_smtpd_milters", "$smtpd_milters", null),
            ("milter_protocol", "6", null),
            ("milter_default_action", options.MilterDefaultAction, null),
        };

        if (options.TlsChainFile is { } chain)
        {
            settings.Add(("smtpd_tls_chain_files", chain, "opt-in TLS (PrivatePostfixOptions.TlsChainFile): key and chain in one file"));
        }

        if (options.MaximalQueueLifetime is { } lifetime)
        {
            settings.Add(("maximal_queue_lifetime", Seconds(lifetime), null));
        }

        if (options.BounceQueueLifetime is { } bounceLifetime)
        {
            settings.Add(("bounce_queue_lifetime", Seconds(bounceLifetime), null));
        }

        foreach (var (name, value) in options.ExtraMainCf)
        {
            settings.Add((name, value, "extra setting from the test"));
        }

        var text = new StringBuilder()
            .AppendLine("# main.cf of a private Postfix instance written by the MailAgent test harness.")
            .AppendLine("# Started with 'postfix -c <this directory> start' by root. As root, Postfix trusts -c, -C and")
            .AppendLine("# MAIL_CONFIG without alternate_config_directories in /etc/postfix/main.cf, so the system")
            .AppendLine("# configuration is neither read nor changed (it need not even exist).");
        foreach (var (name, value, why) in settings)
        {
            if (why is not null)
            {
                text.Append("# ").AppendLine(why);
            }

            text.Append(name).Append(" = ").AppendLine(value);
        }

        return text.ToString();
    }

    public static string MasterCf(PrivatePostfixLayout layout)
    {
        var ports = layout.Ports;
        return $"""
            # master.cf of a private Postfix instance written by the MailAgent test harness.
            # No service runs chrooted: a chroot would need copies of /etc files under the queue directory.
            # service           type  private unpriv chroot wakeup maxproc command
            127.0.0.1:{ports.Smtp}    inet  n       -      n      -      -       smtpd
            # submission-style second listener (no TLS or SASL here), for health checks
            127.0.0.1:{ports.Submission}    inet  n       -      n      -      -       smtpd
              -o syslog_name=postfix/submission
              -o milter_macro_daemon_name=ORIGINATING
            pickup              unix  n       -      n      60     1       pickup
            cleanup             unix  n       -      n      -      0       cleanup
            qmgr                unix  n       -      n      300    1       qmgr
            rewrite             unix  -       -      n      -      -       trivial-rewrite
            bounce              unix  -       -      n      -      0       bounce
            defer               unix  -       -      n      -      0       bounce
            trace               unix  -       -      n      -      0       bounce
            verify              unix  -       -      n      -      1       verify
            flush               unix  n       -      n      1000?  0       flush
            proxymap            unix  -       -      n      -      -       proxymap
            proxywrite          unix  -       -      n      -      1       proxymap
            smtp                unix  -       -      n      -      -       smtp
            relay               unix  -       -      n      -      -       smtp
              -o syslog_name=postfix/$service_name
            showq               unix  n       -      n      -      -       showq
            error               unix  -       -      n      -      -       error
            retry               unix  -       -      n      -      -       error
            discard             unix  -       -      n      -      -       discard
            anvil               unix  -       -      n      -      1       anvil
            scache              unix  -       -      n      -      1       scache
            # TLS (PrivatePostfixOptions.TlsChainFile) needs tlsmgr for entropy and the session cache; idle otherwise
            tlsmgr              unix  -       -      n      1000?  1       tlsmgr
            # maillog_file needs postlogd
            postlog             unix-dgram n  -      n      -      1       postlogd

            """;
    }

    /// <summary>Each test domain goes to its sink; the sender domain receives the bounce notices.</summary>
    public static string TransportMap(PrivatePostfixLayout layout)
    {
        var ports = layout.Ports;
        return $"""
            # transport_maps (texthash): every destination is a literal loopback next hop.
            {PrivatePostfix.AcceptDomain} smtp:[127.0.0.1]:{ports.AcceptSink}
            {PrivatePostfix.SigningDomain} smtp:[127.0.0.1]:{ports.AcceptSink}
            {PrivatePostfix.BounceDomain} smtp:[127.0.0.1]:{ports.BounceSink}
            {PrivatePostfix.PolicyDomain} smtp:[127.0.0.1]:{ports.PolicySink}
            {PrivatePostfix.DeferDomain} smtp:[127.0.0.1]:{ports.DeferSink}
            {PrivatePostfix.UnreachableDomain} smtp:[127.0.0.1]:{ports.Refusing}

            """;
    }

    /// <param name="inNamespace">
    /// True when OpenDKIM runs in its own mount namespace (see <see cref="NamespaceScript"/>), where the
    /// key sits on a private tmpfs; false when it reads the key under /tmp and must be told that is fine.
    /// </param>
    public static string OpenDkimConf(PrivatePostfixLayout layout, bool inNamespace, bool unixSocket = false)
    {
        string socket = unixSocket ? "local:" + layout.OpenDkimSocketPath : $"inet:{layout.Ports.Milter}@127.0.0.1";
        var text = new StringBuilder()
            .AppendLine("# opendkim.conf of a private OpenDKIM written by the MailAgent test harness: sign only.")
            .AppendLine("Syslog                  yes")
            .AppendLine("SyslogSuccess           yes")
            .AppendLine("LogWhy                  no")
            .AppendLine("Mode                    s")
            .AppendLine("Background              no")
            .AppendLine("Canonicalization        relaxed/simple")
            .AppendLine("OversignHeaders         From")
            .Append("Socket                  ").AppendLine(socket)
            .AppendLine("# the socket must be writable by Postfix's smtpd (and the agent): no umask on it")
            .AppendLine("UMask                   000")
            .Append("PidFile                 ").AppendLine(Path.Combine(layout.DkimDirectory, "opendkim.pid"))
            .Append("KeyTable                ").AppendLine(Path.Combine(layout.DkimDirectory, "KeyTable"))
            .Append("SigningTable            refile:").AppendLine(Path.Combine(layout.DkimDirectory, "SigningTable"))
            .AppendLine("# signing needs no DNS; should anything query, it stays on loopback")
            .AppendLine("Nameservers             127.0.0.1");
        if (!inNamespace)
        {
            text.AppendLine("# the key is under /tmp, which is world-writable: warn instead of refusing it")
                .AppendLine("RequireSafeKeys         false");
        }

        return text.ToString();
    }

    public static string KeyTable(PrivatePostfixLayout layout, bool inNamespace)
    {
        var key = inNamespace
            ? $"{NamespaceKeyDirectory}/{PrivatePostfix.DkimSelector}.private"
            : layout.DkimPrivateKeyPath;
        return $"{PrivatePostfix.DkimSelector}._domainkey.{PrivatePostfix.SigningDomain} " +
               $"{PrivatePostfix.SigningDomain}:{PrivatePostfix.DkimSelector}:{key}\n";
    }

    public static string SigningTable() =>
        $"*@{PrivatePostfix.SigningDomain} {PrivatePostfix.DkimSelector}._domainkey.{PrivatePostfix.SigningDomain}\n";

    /// <summary>
    /// Shell script run as <c>unshare --mount --propagation private -- /bin/sh script</c>; it ends by
    /// exec'ing OpenDKIM, so the process started is OpenDKIM itself.
    /// </summary>
    public static string NamespaceScript(PrivatePostfixLayout layout) => $"""
        #!/bin/sh
        # Written by the MailAgent test harness. Runs in a private mount namespace: every mount below is
        # seen by this OpenDKIM only and disappears with it.
        set -eu
        # OpenDKIM logs only through syslog(3), which writes to /dev/log. Give it a /dev of its own whose
        # "log" is the harness's datagram socket, plus the few device nodes a daemon uses.
        mount -t tmpfs -o mode=755,size=1m mailagent-opendkim-dev /dev
        mknod -m 666 /dev/null c 1 3
        mknod -m 666 /dev/zero c 1 5
        mknod -m 666 /dev/random c 1 8
        mknod -m 666 /dev/urandom c 1 9
        ln -s '{layout.OpenDkimSyslogSocketPath}' /dev/log
        # RequireSafeKeys checks every directory from / down to the key and /tmp is world-writable:
        # read the key from the private tmpfs, so no "key data is not secure" line is logged.
        mkdir -m 700 {NamespaceKeyDirectory}
        cp '{layout.DkimPrivateKeyPath}' {NamespaceKeyDirectory}/
        exec /usr/sbin/opendkim -f -x '{layout.OpenDkimConfigPath}'

        """;

    private static string Seconds(TimeSpan value) =>
        ((long)Math.Ceiling(value.TotalSeconds)).ToString(CultureInfo.InvariantCulture) + "s";
}
