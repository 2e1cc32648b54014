using System.Globalization;
using System.Text.Json;
using MailControlPlane.DeliveryEvents;
using MailControlPlane.Registry;

namespace MailControlPlane.Cli;

/// <summary><c>mailagent-control-plane suppressions</c>: the hard bounces worth suppressing, with the evidence.</summary>
internal static class SuppressionsCommand
{
    public const string Usage = """
        NAME
          mailagent-control-plane suppressions - list suppression candidates (hard bounces) with their evidence

        SYNOPSIS
          mailagent-control-plane suppressions [--days N] [--format text|json] [--config FILE] [Section:Key=value ...]

        DESCRIPTION
          Reads the messaging_suppression_candidates view of the delivery-events database
          (Routing:ConnectionString, else Routing:SqlitePath): recipients whose mail bounced hard
          because the address or its domain cannot receive mail (reason unknown_user or dns:
          5.1.1, 5.1.10 null MX, host not found …), grouped by recipient (its HMAC when the agents
          do not send addresses), with the count, first and last time, DSN, the reply and the last
          Message-ID. Candidates only: the platform decides; nothing here stops mail.

        OPTIONS
          --days N         only candidates whose last bounce is in the last N days (default 30)
          --format FORMAT  text (default) or json (one object per line)
          --config FILE, Section:Key=value   as for run

        EXIT STATUS
          0  listed (possibly nothing)
          1  the database cannot be read
          2  usage or configuration error

        FILES
          /etc/mailagent/control-plane.json   the configuration

        EXAMPLES
          mailagent-control-plane suppressions --days 7
          mailagent-control-plane suppressions --format json | jq -r .recipient_hash
        """;

    /// <summary>Lists the candidates of the last <paramref name="days"/> days as <paramref name="format"/> (text or json).</summary>
    public static async Task<int> RunAsync(int days, string format, List<string> configArgs, CliContext context)
    {
        var config = ControlPlaneConfiguration.Build(configArgs, out _, out var errors);
        var routing = Routing.RoutingOptions.Load(config, errors);
        if (errors.Count > 0)
        {
            foreach (var e in errors)
                await context.Error.WriteLineAsync($"configuration error: {e}");
            return 2;
        }

        IReadOnlyList<SuppressionCandidate> candidates;
        try
        {
            await using var store = DeliveryEventsServiceCollectionExtensions.CreateStore(routing, context.Time);
            await store.EnsureSchemaAsync(CancellationToken.None);
            candidates = await store.SuppressionCandidatesAsync(context.Time.GetUtcNow() - TimeSpan.FromDays(days), CancellationToken.None);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or IOException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            await context.Error.WriteLineAsync($"suppressions: cannot read the delivery events: {e.Message}");
            return 1;
        }

        foreach (var c in candidates)
        {
            if (format == "json")
            {
                using var buffer = new MemoryStream();
                using (var w = new Utf8JsonWriter(buffer))
                {
                    w.WriteStartObject();
                    w.WriteString("recipient_domain", c.RecipientDomain);
                    w.WriteString("recipient", c.Recipient);
                    w.WriteString("recipient_hash", c.RecipientHash);
                    w.WriteString("reason", c.Reason);
                    w.WriteString("dsn", c.Dsn);
                    w.WriteString("reply", c.Reply);
                    w.WriteNumber("bounces", c.Bounces);
                    w.WriteString("first_seen", c.FirstSeen);
                    w.WriteString("last_seen", c.LastSeen);
                    w.WriteString("last_message_id", c.LastMessageId);
                    w.WriteString("provider_name", c.ProviderName);
                    w.WriteEndObject();
                }

                await context.Out.WriteLineAsync(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
            }
            else
            {
                string who = c.Recipient.Length > 0 ? c.Recipient : c.RecipientHash.Length > 0 ? "hmac:" + c.RecipientHash[..16] : "(no address) @" + c.RecipientDomain;
                await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{who}  {c.RecipientDomain}  {c.Reason} {c.Dsn}  {c.Bounces}x  last {c.LastSeen:yyyy-MM-dd HH:mm}Z  <{c.LastMessageId}>  {c.Reply}"));
            }
        }

        if (format == "text")
            await context.Error.WriteLineAsync($"{candidates.Count} suppression candidate(s) in the last {days} day(s)");
        await context.Out.FlushAsync();
        return 0;
    }
}
