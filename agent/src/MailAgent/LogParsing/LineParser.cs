namespace MailAgent.LogParsing;

/// <summary>
/// Turns one syslog line (UTF-8 bytes, no line terminator) into a <see cref="ParsedLine"/>.
/// Pure and allocation-free; never throws on any input. Lines it cannot place are
/// <see cref="EventKind.Unparsed"/> with as much of the header as was readable.
/// </summary>
internal static class LineParser
{
    /// <summary>Lines longer than this are not examined beyond the header (Postfix's own limit is far lower).</summary>
    public const int MaxLineBytes = 64 * 1024;

    public static ParsedLine Parse(ReadOnlySpan<byte> line)
    {
        var p = new ParsedLine();
        Parse(line, ref p);
        return p;
    }

    /// <summary>
    /// Parses into a caller's <see cref="ParsedLine"/>, which must be freshly zeroed. The hot
    /// path uses this form: returning the struct (spans are GC references) cost a bulk copy per line.
    /// </summary>
    public static void Parse(ReadOnlySpan<byte> line, ref ParsedLine p) => Parse(line, ref p, null);

    /// <summary>As <see cref="Parse(ReadOnlySpan{byte}, ref ParsedLine)"/>, remembering the header in <paramref name="cache"/> (same result, less work).</summary>
    public static void Parse(ReadOnlySpan<byte> line, ref ParsedLine p, HeaderCache? cache)
    {
        if (line.Length > MaxLineBytes)
            line = line[..MaxLineBytes];
        if (!Header.TryParse(line, ref p, cache))
            return;
        var message = p.Message;

        switch (p.Family)
        {
            case Family.Postfix:
                PostfixMessage.Parse(message, ref p);
                break;
            case Family.OpenDkim:
                OpenDkimMessage.Parse(message, ref p);
                break;
            default:
                p.Kind = EventKind.Foreign;
                break;
        }
    }
}
