using System.Text;
using System.Text.Json;
using MailAgent.Correlation;
using MailAgent.LogParsing;
using MailAgent.Metrics;
using MailAgent.Pipeline;

namespace MailAgent.Cli;

/// <summary>
/// What only a batch replay keeps: distinct senders and recipients (pflogsumm's counts of them)
/// and lines per syslog tag. Memory grows with the number of distinct addresses, which is why the
/// daemon does not keep these.
/// </summary>
internal sealed class ReplaySummary : ILineObserver
{
    private const int MaxPrograms = 256;
    private readonly HashSet<string> _senders = new(StringComparer.Ordinal);
    private readonly HashSet<string> _sendingDomains = new(StringComparer.Ordinal);
    private readonly HashSet<string> _recipients = new(StringComparer.Ordinal);
    private readonly HashSet<string> _recipientDomains = new(StringComparer.Ordinal);
    private readonly byte[][] _tags = new byte[MaxPrograms][];
    private readonly long[] _tagLines = new long[MaxPrograms];
    private int _tagCount;
    private long _overflowLines;

    public bool WantsMessageIds => false;

    public void Observe(ref ParsedLine line, in CorrelationResult correlation)
    {
        if (line.Family != Family.Foreign || !line.Program.IsEmpty)
            CountProgram(line.Program.IsEmpty ? "(no header)"u8 : line.Program);

        switch (line.Kind)
        {
            case EventKind.QmgrQueued when correlation.FirstQueueInsert && correlation.Received:
            {
                // pflogsumm: the sender of each received message, domain part lower-cased; "from=<>" for the null sender.
                string sender = line.From.IsEmpty ? "from=<>" : LowerDomain(line.From);
                _senders.Add(sender);
                int at = sender.IndexOf('@', StringComparison.Ordinal);
                _sendingDomains.Add(at >= 0 ? sender[(at + 1)..] : sender);
                break;
            }

            case EventKind.Delivery when line.Status == DeliveryStatus.Sent && !line.Forwarded:
            {
                string rcpt = LowerDomain(line.To);
                _recipients.Add(rcpt);
                int at = rcpt.IndexOf('@', StringComparison.Ordinal);
                _recipientDomains.Add(at >= 0 ? rcpt[(at + 1)..] : rcpt);
                break;
            }
        }
    }

    private void CountProgram(ReadOnlySpan<byte> program)
    {
        // A log has a handful of distinct tags: a short scan beats hashing the tag on every line.
        var tags = _tags;
        for (int i = 0; i < _tagCount; i++)
        {
            if (tags[i].Length == program.Length && program.SequenceEqual(tags[i]))
            {
                _tagLines[i]++;
                return;
            }
        }

        if (_tagCount < MaxPrograms)
        {
            tags[_tagCount] = program.ToArray();
            _tagLines[_tagCount++] = 1;
        }
        else
        {
            _overflowLines++;
        }
    }

    private Dictionary<string, long> Programs()
    {
        var programs = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < _tagCount; i++)
        {
            string name = string.Create(_tags[i].Length, _tags[i], static (dst, src) =>
            {
                for (int j = 0; j < src.Length; j++)
                    dst[j] = src[j] is >= 0x20 and < 0x7f ? (char)src[j] : '?';
            });
            programs[name] = programs.GetValueOrDefault(name) + _tagLines[i];
        }

        if (_overflowLines > 0)
            programs["(other)"] = _overflowLines;
        return programs;
    }

    private static string LowerDomain(ReadOnlySpan<byte> address)
    {
        string s = Encoding.UTF8.GetString(address);
        int at = s.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? s : string.Concat(s.AsSpan(0, at), s[at..].ToLowerInvariant());
    }

    public void WriteJson(Stream output, LogStats stats)
    {
        var sum = stats.Summary;
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteNumber("lines", sum[(int)SummaryField.Lines]);
        w.WriteNumber("unparsed_lines", sum[(int)SummaryField.UnparsedLines]);
        w.WriteNumber("other_lines", sum[(int)SummaryField.OtherLines]);
        w.WriteNumber("received", sum[(int)SummaryField.Received]);
        w.WriteNumber("delivered", sum[(int)SummaryField.Delivered]);
        w.WriteNumber("forwarded", sum[(int)SummaryField.Forwarded]);
        w.WriteNumber("deferred", sum[(int)SummaryField.Deferred]);
        w.WriteNumber("deferrals", sum[(int)SummaryField.Deferrals]);
        w.WriteNumber("bounced", sum[(int)SummaryField.Bounced]);
        w.WriteNumber("rejected", sum[(int)SummaryField.Rejected]);
        w.WriteNumber("reject_warnings", sum[(int)SummaryField.RejectWarnings]);
        w.WriteNumber("held", sum[(int)SummaryField.Held]);
        w.WriteNumber("discarded", sum[(int)SummaryField.Discarded]);
        w.WriteNumber("expired", sum[(int)SummaryField.Expired]);
        w.WriteNumber("bytes_received", sum[(int)SummaryField.BytesReceived]);
        w.WriteNumber("bytes_delivered", sum[(int)SummaryField.BytesDelivered]);
        w.WriteNumber("senders", _senders.Count);
        w.WriteNumber("sending_hosts_domains", _sendingDomains.Count);
        w.WriteNumber("recipients", _recipients.Count);
        w.WriteNumber("recipient_hosts_domains", _recipientDomains.Count);
        w.WriteNumber("dkim_signed", sum[(int)SummaryField.DkimSigned]);
        w.WriteNumber("sasl_auth_failures", stats.SaslFailures.Values[0]);
        w.WriteNumber("smtpd_connects", stats.SmtpdConnects.Values[0]);

        w.WriteStartObject("rejects_by_stage_code");
        var rejected = stats.Rejected;
        for (int i = 0; i < rejected.Values.Length; i++)
        {
            if (rejected.Values[i] > 0)
                w.WriteNumber($"{rejected.LabelValues[i][0]} {rejected.LabelValues[i][1]}".TrimEnd(), rejected.Values[i]);
        }

        w.WriteEndObject();

        w.WriteStartObject("by_program");
        foreach (var (program, count) in Programs().OrderBy(p => p.Key, StringComparer.Ordinal))
            w.WriteNumber(program, count);
        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
        output.WriteByte((byte)'\n');
    }

    public void WriteTable(TextWriter output, LogStats stats)
    {
        var sum = stats.Summary;
        void Row(string label, long value) => output.WriteLine($"  {value,12:N0}  {label}");
        output.WriteLine("Grand totals");
        Row("lines read (mail system)", sum[(int)SummaryField.Lines]);
        Row("lines not understood", sum[(int)SummaryField.UnparsedLines]);
        Row("lines of other programs", sum[(int)SummaryField.OtherLines]);
        output.WriteLine();
        Row("received", sum[(int)SummaryField.Received]);
        Row("delivered", sum[(int)SummaryField.Delivered]);
        Row("forwarded", sum[(int)SummaryField.Forwarded]);
        Row($"deferred ({sum[(int)SummaryField.Deferrals]:N0} deferrals)", sum[(int)SummaryField.Deferred]);
        Row("bounced", sum[(int)SummaryField.Bounced]);
        Row("rejected", sum[(int)SummaryField.Rejected]);
        Row("reject warnings", sum[(int)SummaryField.RejectWarnings]);
        Row("held", sum[(int)SummaryField.Held]);
        Row("discarded", sum[(int)SummaryField.Discarded]);
        Row("expired", sum[(int)SummaryField.Expired]);
        output.WriteLine();
        Row("bytes received", sum[(int)SummaryField.BytesReceived]);
        Row("bytes delivered", sum[(int)SummaryField.BytesDelivered]);
        Row("senders", _senders.Count);
        Row("sending hosts/domains", _sendingDomains.Count);
        Row("recipients", _recipients.Count);
        Row("recipient hosts/domains", _recipientDomains.Count);
        Row("DKIM signatures added", sum[(int)SummaryField.DkimSigned]);
        Row("SASL authentication failures", stats.SaslFailures.Values[0]);
        output.WriteLine();
        output.WriteLine("Lines by program");
        foreach (var (program, count) in Programs().OrderByDescending(p => p.Value))
            Row(program, count);
    }
}
