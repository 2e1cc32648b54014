using System.Security.Cryptography;
using System.Text;

namespace MailAgent.Health.Dns;

/// <summary>
/// The DKIM public key the DNS record must carry: derived from the private key (PEM), or read from
/// the record file opendkim-genkey writes, and compared by RSA modulus and exponent, so a record
/// that publishes the bare PKCS#1 key instead of SubjectPublicKeyInfo still matches.
/// </summary>
internal static class DkimKey
{
    /// <summary>The SubjectPublicKeyInfo of the key in <paramref name="path"/>; false with a reason when it cannot be read.</summary>
    public static bool TryLoadPublicKey(string path, out byte[] publicKey, out string problem)
    {
        publicKey = [];
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            problem = $"cannot be read ({e.Message})";
            return false;
        }

        if (text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            try
            {
                using var rsa = RSA.Create();
                rsa.ImportFromPem(text);
                publicKey = rsa.ExportSubjectPublicKeyInfo();
                problem = "";
                return true;
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                problem = $"holds no RSA key in PEM ({e.Message}); only RSA DKIM keys are checked";
                return false;
            }
        }

        var tags = ParseTags(JoinQuotedStrings(text));
        if (!tags.TryGetValue("p", out var p) || p.Length == 0)
        {
            problem = "is neither a PEM key nor a DKIM record with a p= tag";
            return false;
        }

        if (!TryDecodeRsa(p, out _, out var why))
        {
            problem = $"has a p= value that is not an RSA public key ({why})";
            return false;
        }

        publicKey = Convert.FromBase64String(p);
        problem = "";
        return true;
    }

    /// <summary>
    /// The strings of a zone-file TXT record joined: <c>name IN TXT ( "v=DKIM1; …" "p=MIIB…" ) ; comment</c>.
    /// Text that has no quotes is returned as it is (a record already joined).
    /// </summary>
    public static string JoinQuotedStrings(string text)
    {
        if (!text.Contains('"', StringComparison.Ordinal))
            return text.Trim();
        var joined = new StringBuilder();
        bool inQuotes = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (inQuotes)
            {
                if (c == '\\' && i + 1 < text.Length)
                    joined.Append(text[++i]);
                else if (c == '"')
                    inQuotes = false;
                else
                    joined.Append(c);
            }
            else if (c == '"')
                inQuotes = true;
            else if (c == ';')
            {
                // a zone-file comment: skip to the end of the line
                while (i + 1 < text.Length && text[i + 1] != '\n')
                    i++;
            }
        }

        return joined.ToString();
    }

    /// <summary>A DKIM/DMARC tag list (<c>v=DKIM1; k=rsa; p=…</c>): tag names lower-cased, whitespace removed from values. The first of a repeated tag wins.</summary>
    public static Dictionary<string, string> ParseTags(string record)
    {
        var tags = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in record.Split(';'))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                continue;
            string name = part[..eq].Trim();
            if (name.Length == 0)
                continue;
            string value = string.Concat(part[(eq + 1)..].Where(c => !char.IsWhiteSpace(c)));
            tags.TryAdd(name, value);
        }

        return tags;
    }

    /// <summary>Whether the record's <c>p=</c> value is the same RSA key as <paramref name="publicKey"/>; if not, why.</summary>
    public static bool Matches(byte[] publicKey, string recordKey, out string why)
    {
        if (!TryDecodeRsa(Convert.ToBase64String(publicKey), out var expected, out why))
            return false;
        if (!TryDecodeRsa(recordKey, out var published, out why))
            return false;
        if (expected.Exponent.AsSpan().SequenceEqual(published.Exponent) && Trimmed(expected.Modulus).SequenceEqual(Trimmed(published.Modulus)))
        {
            why = "";
            return true;
        }

        why = $"the record's {Trimmed(published.Modulus).Length * 8}-bit key {Fingerprint(published)} is not the signing key {Fingerprint(expected)}";
        return false;
    }

    private static bool TryDecodeRsa(string base64, out RSAParameters parameters, out string why)
    {
        parameters = default;
        byte[] der;
        try
        {
            der = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            why = "p= is not base64";
            return false;
        }

        using var rsa = RSA.Create();
        try
        {
            rsa.ImportSubjectPublicKeyInfo(der, out _);
        }
        catch (CryptographicException)
        {
            try
            {
                rsa.ImportRSAPublicKey(der, out _);
            }
            catch (CryptographicException e)
            {
                why = $"p= is not an RSA public key ({e.Message})";
                return false;
            }
        }

        parameters = rsa.ExportParameters(includePrivateParameters: false);
        why = "";
        return true;
    }

    private static ReadOnlySpan<byte> Trimmed(byte[]? value)
    {
        var span = value.AsSpan();
        while (span.Length > 0 && span[0] == 0)
            span = span[1..];
        return span;
    }

    /// <summary>A short, stable name for a key in reasons: the first bytes of the SHA-256 of its modulus.</summary>
    private static string Fingerprint(RSAParameters key) =>
        "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Trimmed(key.Modulus)))[..16];
}
