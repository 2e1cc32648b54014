using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MailAgent.Health.Dns;

namespace MailAgent.Doctor;

/// <summary>
/// DANE: the TLSA records of _25._tcp.&lt;myhostname&gt; against the certificate port 25 serves after
/// STARTTLS. Usages 1 and 3 (end entity) match the leaf, 0 and 2 (trust anchor) any certificate of the
/// chain; selector 0 is the whole certificate, 1 its SubjectPublicKeyInfo; matching type 0 exact, 1
/// SHA-256, 2 SHA-512. A published record that matches nothing makes DANE-validating senders refuse mail.
/// </summary>
internal sealed class DaneDoctor(DoctorOptions options, string hostName, ITlsaLookup dns) : IDoctorCheck
{
    private const string Id = "transport.dane";
    private const string Title = "DANE TLSA matches the served key";

    public async Task<IReadOnlyList<DoctorItem>> RunAsync(CancellationToken cancellationToken) => [await CheckAsync(cancellationToken)];

    private async Task<DoctorItem> CheckAsync(CancellationToken cancellationToken)
    {
        string host = hostName.Trim().TrimEnd('.');
        if (host.Length == 0)
            return DoctorItem.Skip(DoctorGroup.TransportSecurity, Id, Title, "no host name configured (Health:Dns:HostName)", "set Health:Dns:HostName to the MX host name");
        string name = $"_25._tcp.{host}";
        const string Publish = "publish '3 1 1 <SHA-256 of the key>' (openssl x509 -in cert.pem -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum); keep the key across renewals (certbot --reuse-key), and publish the next key's record before a key change";
        var tlsa = await dns.TlsaAsync(name, cancellationToken);
        if (tlsa.IsVoid)
            return DoctorItem.Skip(DoctorGroup.TransportSecurity, Id, Title, $"{name} has no TLSA record, so DANE is not in use (optional; needs a DNSSEC-signed zone)", Publish);
        if (tlsa.Status != DnsLookupStatus.Found)
            return new(DoctorGroup.TransportSecurity, Id, Title, DoctorStatus.Warn, $"TLSA {name} could not be read: {tlsa.Detail}", [], "check Health:Dns:Resolver");
        var evidence = tlsa.Records.Select(r => $"TLSA {name}: {r}").ToList();
        var (chain, problem) = await SmtpSession.ServedChainAsync(options.SmtpHost, options.SmtpPort, options.Timeout, cancellationToken);
        if (chain.Count == 0)
            return new(DoctorGroup.TransportSecurity, Id, Title, DoctorStatus.Fail, $"TLSA records are published but no certificate was seen: {problem}", evidence,
                "make port 25 offer STARTTLS with the certificate the TLSA records describe");
        var certificates = chain.Select(X509CertificateLoader.LoadCertificate).ToArray();
        try
        {
            evidence.Add($"served on {options.SmtpHost}:{options.SmtpPort}: {certificates[0].Subject}, SPKI SHA-256 {Hex(SHA256.HashData(certificates[0].PublicKey.ExportSubjectPublicKeyInfo()))}");
            var matching = tlsa.Records.Where(r => Matches(r, certificates)).ToArray();
            if (matching.Length > 0)
                return new(DoctorGroup.TransportSecurity, Id, Title, DoctorStatus.Pass,
                    $"{matching.Length} of {tlsa.Records.Count} TLSA record(s) of {name} match what port {options.SmtpPort} serves ({matching[0]})", evidence, Publish);
            return new(DoctorGroup.TransportSecurity, Id, Title, DoctorStatus.Fail,
                $"none of the {tlsa.Records.Count} TLSA record(s) of {name} matches the served certificate: DANE-validating senders will not deliver", evidence,
                "publish a TLSA record for the key now served (and keep the old one until caches expire), or restore the key the records describe; " + Publish);
        }
        finally
        {
            foreach (var c in certificates)
                c.Dispose();
        }
    }

    /// <summary>Whether <paramref name="record"/> matches <paramref name="chain"/> (leaf first).</summary>
    public static bool Matches(TlsaRecordData record, IReadOnlyList<X509Certificate2> chain)
    {
        var candidates = record.Usage is 1 or 3 ? chain.Take(1) : record.Usage is 0 or 2 ? chain : [];
        foreach (var certificate in candidates)
        {
            byte[]? selected = record.Selector switch
            {
                0 => certificate.RawData,
                1 => certificate.PublicKey.ExportSubjectPublicKeyInfo(),
                _ => null,
            };
            byte[]? data = selected == null ? null : record.MatchingType switch
            {
                0 => selected,
                1 => SHA256.HashData(selected),
                2 => SHA512.HashData(selected),
                _ => null,
            };
            if (data != null && data.AsSpan().SequenceEqual(record.Data))
                return true;
        }

        return false;
    }

    private static string Hex(byte[] data) => Convert.ToHexString(data).ToLowerInvariant();
}
