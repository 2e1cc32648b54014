namespace MailAgent.Tests.Integration.Postfix;

/// <summary>Where one instance keeps its files and which loopback ports it uses.</summary>
internal sealed record PrivatePostfixLayout(string Root, PrivatePostfixPorts Ports)
{
    public string ConfigDirectory => Path.Combine(Root, "etc");

    public string QueueDirectory => Path.Combine(Root, "queue");

    public string DataDirectory => Path.Combine(Root, "data");

    public string LogDirectory => Path.Combine(Root, "log");

    public string LogPath => Path.Combine(LogDirectory, "postfix.log");

    public string OpenDkimLogPath => Path.Combine(LogDirectory, "opendkim.log");

    /// <summary>postlogd's datagram socket (the postlog service is not private, so it is in public/).</summary>
    public string PostlogSocketPath => Path.Combine(QueueDirectory, "public", "postlog");

    public string TransportMapPath => Path.Combine(ConfigDirectory, "transport");

    public string DkimDirectory => Path.Combine(Root, "dkim");

    public string DkimKeyDirectory => Path.Combine(DkimDirectory, "keys");

    public string DkimPrivateKeyPath => Path.Combine(DkimKeyDirectory, PrivatePostfix.DkimSelector + ".private");

    /// <summary>The TXT record opendkim-genkey wrote for <c>selector._domainkey.domain</c>.</summary>
    public string DkimPublicRecordPath => Path.Combine(DkimKeyDirectory, PrivatePostfix.DkimSelector + ".txt");

    /// <summary>OpenDKIM's unix socket when <see cref="PrivatePostfixOptions.MilterOnUnixSocket"/>.</summary>
    public string OpenDkimSocketPath => Path.Combine(DkimDirectory, "opendkim.sock");

    public string OpenDkimConfigPath => Path.Combine(DkimDirectory, "opendkim.conf");

    public string OpenDkimNamespaceScriptPath => Path.Combine(DkimDirectory, "opendkim-in-namespace.sh");

    public string OpenDkimSyslogSocketPath => Path.Combine(DkimDirectory, "syslog.sock");

    public string SinkDirectory => Path.Combine(Root, "sinks");

    public string AcceptedMessagesDirectory => Path.Combine(SinkDirectory, "accepted");
}

/// <summary>The loopback ports of one instance.</summary>
internal sealed record PrivatePostfixPorts(
    int Smtp,
    int Submission,
    int Milter,
    int AcceptSink,
    int BounceSink,
    int PolicySink,
    int DeferSink,
    int Refusing);
