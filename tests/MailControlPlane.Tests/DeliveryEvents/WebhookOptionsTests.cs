using MailControlPlane.DeliveryEvents;
using Microsoft.Extensions.Configuration;

namespace MailControlPlane.Tests.DeliveryEvents;

public sealed class WebhookOptionsTests
{
    private static (DeliveryEventsOptions Options, List<string> Errors) Load(params (string Key, string Value)[] pairs)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(pairs.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value))).Build();
        var errors = new List<string>();
        return (DeliveryEventsOptions.Load(config, errors), errors);
    }

    [Fact]
    public void Load_NoUrl_Off()
    {
        var (options, errors) = Load();
        Assert.Empty(errors);
        Assert.False(options.Webhook.Enabled);
    }

    [Fact]
    public void Load_HttpsWithSecret_OnWithSecretLoaded()
    {
        var (options, errors) = Load(("DeliveryEvents:Webhook:Url", "https://hooks.example/mail"), ("DeliveryEvents:Webhook:Secret", "0123456789abcdef0123"));
        Assert.Empty(errors);
        Assert.True(options.Webhook.Enabled);
        Assert.Equal("0123456789abcdef0123"u8.ToArray(), options.Webhook.LoadedSecret);
    }

    [Theory]
    [InlineData("http://hooks.example/mail", "0123456789abcdef0123", "Url")]
    [InlineData("https://hooks.example/mail", "short", "Secret or SecretFile")]
    [InlineData("https://hooks.example/mail", "", "Secret or SecretFile")]
    public void Load_PlainHttpOrWeakSecret_Refused(string url, string secret, string expected)
    {
        var (_, errors) = Load(("DeliveryEvents:Webhook:Url", url), ("DeliveryEvents:Webhook:Secret", secret));
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Load_UnknownWebhookKey_Refused()
    {
        var (_, errors) = Load(("DeliveryEvents:Webhook:AcceptAnyCertificate", "true"));
        Assert.NotEmpty(errors);
    }
}
