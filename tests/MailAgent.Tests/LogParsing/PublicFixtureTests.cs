using System.Text.RegularExpressions;

namespace MailAgent.Tests.LogParsing;

/// <summary>
/// Genuine lines from other projects' fixtures and bug reports (public-fixture-lines.txt): shapes
/// the corpus lacks. Only whole syslog lines count; message-only fragments and format strings do not.
/// </summary>
public sealed partial class PublicFixtureTests
{
    // Measured when this test was written: 4 of 245 whole lines not understood. Two have
    // "IP_ADDRESS/smtpd" as their syslog tag (syslog_name replaced by an address, so not a mail
    // program) and two have "<MACHINE NAME>", with a space, as their host. Raise it only with a reason.
    private const int MaxNotUnderstood = 4;

    private static readonly Fixture Lines = Load();

    [Fact]
    public void Load_FixtureFile_FindsWholeLinesAndTheDeliberatelyBrokenOnes()
    {
        Assert.InRange(Lines.Whole.Count, 200, 300);
        Assert.Equal(9, Lines.Malformed.Count);
        Assert.Equal(8, Lines.Unsupported.Count);
    }

    [Fact]
    public void Parse_WholeFixtureLines_UnderstandsAllButAFew()
    {
        var notUnderstood = Lines.Whole.Where(l => !ParsedView.Of(l).Understood).ToList();

        string report = $"{notUnderstood.Count}/{Lines.Whole.Count} not understood:\n{string.Join('\n', notUnderstood)}";
        Assert.True((double)notUnderstood.Count / Lines.Whole.Count < 0.02, report);
        Assert.True(notUnderstood.Count <= MaxNotUnderstood, report);
    }

    [Fact]
    public void Parse_WholeFixtureLines_ReadAValidTimestamp()
    {
        var bad = Lines.Whole.Where(l => !ParsedView.Of(l).Timestamp.IsValid).ToList();

        Assert.True(bad.Count == 0, string.Join('\n', bad));
    }

    [Fact]
    public void Parse_MalformedFixtureLines_AreNotCountedAsEvents()
    {
        foreach (string line in Lines.Malformed)
        {
            var p = ParsedView.Of(line);

            Assert.True(!p.Understood, $"{line}\n  parsed as {p}");
        }
    }

    [Fact]
    public void Parse_DeliberatelyUnsupportedFixtureLines_AreNotCountedAsEvents()
    {
        foreach (string line in Lines.Unsupported)
        {
            var p = ParsedView.Of(line);

            Assert.True(!p.Understood, $"{line}\n  parsed as {p}");
        }
    }

    private static Fixture Load()
    {
        var fixture = new Fixture([], [], []);
        bool inBlockHeader = false;
        bool sergeymakinen = false;
        bool malformed = false;
        foreach (string line in TestData.ReadLines("public-fixture-lines.txt"))
        {
            // A block's title sits between two rows of '#'; inside a block, "# Title" starts a sub-section.
            if (line.StartsWith("####", StringComparison.Ordinal))
            {
                inBlockHeader = !inBlockHeader;
                continue;
            }

            if (line.StartsWith("# ", StringComparison.Ordinal))
            {
                if (inBlockHeader)
                    sergeymakinen = line.StartsWith("# sergeymakinen/", StringComparison.Ordinal);
                malformed = sergeymakinen && line == "# Unsupported or malformed";
                continue;
            }

            if (line.StartsWith('#') || inBlockHeader)
                continue;

            if (malformed)
            {
                if (line.Length > 0)
                    fixture.Malformed.Add(line);
            }
            else if (WholeSyslogLine().IsMatch(line))
            {
                // sergeymakinen's mail.log also ends its sub-sections with lines its own tests count
                // as unsupported: the message "Unsupported", and deliveries without "to=<…>", which
                // Postfix never writes. They are held to the same rule as the malformed ones.
                if (sergeymakinen && (line.EndsWith(": Unsupported", StringComparison.Ordinal) || DeliveryWithoutTo().IsMatch(line)))
                    fixture.Unsupported.Add(line);
                else
                    fixture.Whole.Add(line);
            }
        }

        return fixture;
    }

    private sealed record Fixture(List<string> Whole, List<string> Malformed, List<string> Unsupported);

    [GeneratedRegex(@"^([A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT[\d:.+\-Z]+) .*?\[\d+\]: ")]
    private static partial Regex WholeSyslogLine();

    [GeneratedRegex(@"\[\d+\]: [0-9A-F]{5,12}: [^=\s]+@\S+, relay=")]
    private static partial Regex DeliveryWithoutTo();
}
