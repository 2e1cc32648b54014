using System.Net;
using System.Text.Json;
using MailAgent.Health.Dns;

namespace MailAgent.Tests.Health.Dns;

/// <summary>The RFC 7208 conformance suite (openspf.org 2014.04, as distributed with pyspf), one test per case.</summary>
public sealed class SpfConformanceTests
{
    private static readonly Lazy<JsonDocument> Suite = new(() => JsonDocument.Parse(TestData.ReadText("spf-rfc7208-cases.json")));

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var section in Suite.Value.RootElement.GetProperty("sections").EnumerateArray())
        {
            foreach (var test in section.GetProperty("tests").EnumerateObject())
                data.Add(section.GetProperty("title").GetString()!, test.Name);
        }

        return data;
    }

    [Fact]
    public void Cases_TheWholeSuite_203()
    {
        Assert.Equal(203, Cases().Count);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task CheckMailFromAsync_SuiteCase_ResultAndExplanationAsExpected(string section, string name)
    {
        var sectionElement = Suite.Value.RootElement.GetProperty("sections").EnumerateArray()
            .Single(s => s.GetProperty("title").GetString() == section);
        var test = sectionElement.GetProperty("tests").GetProperty(name);
        var zone = new SuiteZone(sectionElement.GetProperty("zonedata"));
        var evaluator = new SpfEvaluator(zone);

        var verdict = await evaluator.CheckMailFromAsync(
            IPAddress.Parse(test.GetProperty("host").GetString()!),
            test.GetProperty("mailfrom").GetString()!,
            test.GetProperty("helo").GetString()!,
            CancellationToken.None);

        var expected = test.GetProperty("result").EnumerateArray().Select(r => r.GetString()!).ToArray();
        string actual = verdict.Result.ToString().ToLowerInvariant();
        Assert.True(expected.Contains(actual), $"{section}/{name}: expected {string.Join(" or ", expected)}, got {actual}: {verdict.Reason}");
        if (test.TryGetProperty("explanation", out var explanation))
        {
            // "DEFAULT": the domain gives no usable explanation, so the receiver's own applies.
            string? want = explanation.GetString() == "DEFAULT" ? null : explanation.GetString();
            // Case-insensitive: the suite writes %{i} of an IPv6 address in upper-case nibbles, RFC 7208
            // 7.4's own example in lower case; DNS names compare without case.
            Assert.True(string.Equals(want, verdict.Explanation, StringComparison.OrdinalIgnoreCase), $"{section}/{name}: explanation '{want}' expected, got '{verdict.Explanation}'");
        }
    }
}
