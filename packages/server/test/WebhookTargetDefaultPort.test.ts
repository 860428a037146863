/**
 * An allowed `host:port` naming the scheme's default port (80 for http, 443
 * for https): `URL` drops that port from the URL's `host`, so the entry
 * matched no URL at all. The property "an allowed private host is accepted,
 * by host or by host:port" drew port 80 (1 in 65,535 a run) at 2,500 runs
 * (`CHAINJOBS_PROP_RUNS=2500`, replay `[0,"-1080961336010519",1385,6,[0,0,0,0],"PropertyError"]`):
 * shrunk, `127.0.0.0` on port 80.
 */
import { assert, describe, it } from "@effect/vitest"
import * as WebhookTarget from "../src/WebhookTarget.ts"

const allowing = (...allowHosts: ReadonlyArray<string>): WebhookTarget.TargetRules => ({ signing: true, allowHosts })

describe("WebhookTarget: an allowed host:port with the scheme's default port", () => {
  it("host:80 allows the http URL naming port 80 and the one naming no port", () => {
    for (const url of ["http://127.0.0.0:80/hook", "http://127.0.0.0/hook"]) {
      assert.instanceOf(WebhookTarget.check(allowing("127.0.0.0:80"), url), URL, url)
    }
  })

  it("host:443 allows https on its default port, and neither http nor another port", () => {
    for (const url of ["https://10.1.2.3/hook", "https://10.1.2.3:443/x"]) {
      assert.instanceOf(WebhookTarget.check(allowing("10.1.2.3:443"), url), URL, url)
    }
    for (const url of ["http://10.1.2.3/hook", "https://10.1.2.3:8443/x"]) {
      assert.strictEqual((WebhookTarget.check(allowing("10.1.2.3:443"), url) as WebhookTarget.WebhookRefused).reason, "private-host", url)
    }
  })

  it("an IPv6 host:port works the same, brackets and all", () => {
    assert.instanceOf(WebhookTarget.check(allowing("[fd00::1]:80"), "http://[fd00::1]/hook"), URL)
    assert.instanceOf(WebhookTarget.check(allowing("[FD00::1]:8080"), "http://[fd00::1]:8080/hook"), URL)
    assert.strictEqual((WebhookTarget.check(allowing("[fd00::1]:80"), "https://[fd00::1]/hook") as WebhookTarget.WebhookRefused).reason, "private-host")
  })
})
