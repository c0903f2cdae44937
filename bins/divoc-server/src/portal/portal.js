// Citizen portal: sign in with a one-time code, list the certificates on the
// mobile number, fetch the PDF and QR code, create share links and send email.
//
// The bearer token lives only in the `token` variable of this closure. It is
// never written to web storage, a cookie or the DOM, so no other script (and no
// stored-XSS payload on another page of the origin) can read it later. A reload
// signs the citizen out. Keycloak sign-in keeps only its PKCE verifier and state
// in sessionStorage across the redirect and deletes them on return.
"use strict";

(function () {
  const API = "/certificate/api";
  let token = null;
  let mobile = "";
  // Keycloak endpoints and client from /portal/config.json, or null.
  let keycloak = null;
  const PKCE_KEY = "divoc-pkce";
  // Object URLs of fetched files, revoked on sign-out.
  const objectUrls = [];

  const byId = (id) => document.getElementById(id);
  const status = byId("status");
  const mobileForm = byId("mobile-form");
  const otpForm = byId("otp-form");
  const certificates = byId("certificates");
  const list = byId("beneficiaries");
  const language = byId("language");

  function say(message, isError) {
    status.textContent = message;
    status.classList.toggle("error", Boolean(isError));
  }

  // Reads the `message` of the service's JSON error body, or describes the status.
  async function errorText(response) {
    try {
      const body = await response.json();
      if (body && typeof body.message === "string") {
        return body.message;
      }
    } catch (ignored) {
      // Not JSON: fall through to the status.
    }
    return "the server answered with status " + response.status;
  }

  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    if (token) {
      headers.Authorization = "Bearer " + token;
    }
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    return fetch(API + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  }

  function showStep(step) {
    mobileForm.hidden = step !== "mobile";
    byId("keycloak-step").hidden = step !== "mobile" || !keycloak;
    otpForm.hidden = step !== "otp";
    certificates.hidden = step !== "certificates";
  }

  mobileForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = byId("mobile").value.trim().replace(/[\s-]/g, "");
    if (!/^\+?[0-9]{10,15}$/.test(value)) {
      say("Enter a mobile number of 10 to 15 digits, with an optional leading +.", true);
      byId("mobile").focus();
      return;
    }
    const button = mobileForm.querySelector("button[type=submit]");
    button.disabled = true;
    say("Sending the code…");
    try {
      const response = await call("POST", "/citizen/otp", { mobile: value });
      if (!response.ok) {
        say("The code could not be sent: " + (await errorText(response)), true);
        return;
      }
      mobile = value;
      showStep("otp");
      say("If the number is registered, a code is on its way by SMS.");
      byId("otp").focus();
    } catch (error) {
      say("The code could not be sent: the server is not reachable.", true);
    } finally {
      button.disabled = false;
    }
  });

  otpForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = byId("otp").value.trim();
    if (!/^[0-9]{6}$/.test(code)) {
      say("Enter the 6-digit code from the SMS.", true);
      byId("otp").focus();
      return;
    }
    const button = otpForm.querySelector("button[type=submit]");
    button.disabled = true;
    say("Signing in…");
    try {
      const response = await call("POST", "/citizen/token", { mobile: mobile, otp: code });
      if (!response.ok) {
        say("Sign-in failed: " + (await errorText(response)), true);
        return;
      }
      const body = await response.json();
      token = body.token;
      byId("otp").value = "";
      await loadCertificates();
    } catch (error) {
      say("Sign-in failed: the server is not reachable.", true);
    } finally {
      button.disabled = false;
    }
  });

  function base64Url(bytes) {
    let text = "";
    bytes.forEach((byte) => {
      text += String.fromCharCode(byte);
    });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomText() {
    const bytes = new Uint8Array(32);
    crypto.getRandomValues(bytes);
    return base64Url(bytes);
  }

  function redirectUri() {
    return location.origin + location.pathname;
  }

  // Starts the authorization code flow with PKCE (RFC 7636, method S256).
  byId("keycloak-sign-in").addEventListener("click", async () => {
    const verifier = randomText();
    const state = randomText();
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier: verifier, state: state }));
    const query = new URLSearchParams({
      response_type: "code",
      client_id: keycloak.clientId,
      redirect_uri: redirectUri(),
      scope: "openid",
      state: state,
      code_challenge: base64Url(new Uint8Array(digest)),
      code_challenge_method: "S256",
    });
    say("Opening Keycloak…");
    location.assign(keycloak.authorizationEndpoint + "?" + query.toString());
  });

  // Completes a Keycloak sign-in when the page is loaded with ?code= or ?error=.
  async function finishKeycloakSignIn() {
    const query = new URLSearchParams(location.search);
    const code = query.get("code");
    const error = query.get("error");
    if (!code && !error) {
      return;
    }
    history.replaceState(null, "", location.pathname);
    const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
    sessionStorage.removeItem(PKCE_KEY);
    if (error) {
      say("Keycloak sign-in failed: " + error, true);
      return;
    }
    if (!saved || saved.state !== query.get("state")) {
      say("Keycloak sign-in failed: the response does not belong to this sign-in; try again.", true);
      return;
    }
    say("Signing in…");
    const form = new URLSearchParams({
      grant_type: "authorization_code",
      code: code,
      redirect_uri: redirectUri(),
      client_id: keycloak.clientId,
      code_verifier: saved.verifier,
    });
    let response;
    try {
      response = await fetch(keycloak.tokenEndpoint, {
        method: "POST",
        body: form,
        credentials: "omit",
        cache: "no-store",
      });
    } catch (failure) {
      say("Keycloak sign-in failed: the login service is not reachable.", true);
      return;
    }
    if (!response.ok) {
      say("Keycloak sign-in failed: the token request returned status " + response.status + ".", true);
      return;
    }
    token = (await response.json()).access_token;
    await loadCertificates();
  }

  async function start() {
    try {
      const response = await fetch("/portal/config.json", { credentials: "omit", cache: "no-store" });
      if (response.ok) {
        keycloak = (await response.json()).keycloak;
      }
    } catch (ignored) {
      // Without the configuration the page offers the one-time code only.
    }
    showStep("mobile");
    if (keycloak) {
      await finishKeycloakSignIn();
    }
  }

  byId("change-mobile").addEventListener("click", () => {
    showStep("mobile");
    say("");
    byId("mobile").focus();
  });

  byId("sign-out").addEventListener("click", () => {
    token = null;
    mobile = "";
    objectUrls.splice(0).forEach((url) => URL.revokeObjectURL(url));
    list.replaceChildren();
    showStep("mobile");
    say("Signed out.");
    byId("mobile").focus();
  });

  async function loadCertificates() {
    say("Loading your certificates…");
    const response = await call("GET", "/citizen/beneficiaries");
    if (!response.ok) {
      say("Your certificates could not be loaded: " + (await errorText(response)), true);
      return;
    }
    const body = await response.json();
    list.replaceChildren(...body.beneficiaries.map(renderBeneficiary));
    showStep("certificates");
    const count = body.beneficiaries.length;
    say(count === 0
      ? "No certificate is registered to this number."
      : count === 1 ? "1 person has a certificate on this number." : count + " people have certificates on this number.");
    byId("certificates-heading").focus();
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function doseText(entry) {
    if (entry.dose == null) {
      return "dose unknown";
    }
    return entry.totalDoses == null
      ? "dose " + entry.dose
      : "dose " + entry.dose + " of " + entry.totalDoses;
  }

  // The day the PDF prints: the server converts the vaccination time into its
  // configured zone. A date it cannot read is shown as written.
  function shownDate(entry) {
    return entry.localDate || entry.date.slice(0, 10);
  }

  function renderBeneficiary(person) {
    const item = element("li", "beneficiary");
    item.dataset.beneficiary = person.preEnrollmentCode;
    item.dataset.certificate = person.certificateId;
    const headingId = "name-" + person.preEnrollmentCode;
    const heading = element("h3", null, person.name || person.preEnrollmentCode);
    heading.id = headingId;
    item.setAttribute("aria-labelledby", headingId);
    item.append(heading);
    item.append(element("p", "latest",
      "Latest certificate " + person.certificateId + ": " + doseText(person) +
      (person.vaccine ? ", " + person.vaccine : "") +
      (person.date ? ", " + shownDate(person) : "")));

    const wrap = element("div", "table-wrap");
    const table = element("table", "doses");
    table.append(element("caption", null, "Doses received"));
    const head = element("tr");
    ["Dose", "Vaccine", "Date", "Certificate"].forEach((name) => {
      const cell = element("th", null, name);
      cell.scope = "col";
      head.append(cell);
    });
    const thead = element("thead");
    thead.append(head);
    const tbody = element("tbody");
    person.doses.forEach((dose) => {
      const row = element("tr");
      row.append(
        element("td", null, doseText(dose)),
        element("td", null, dose.vaccine || ""),
        element("td", null, dose.date ? shownDate(dose) : ""),
        element("td", null, dose.certificateId));
      tbody.append(row);
    });
    table.append(thead, tbody);
    wrap.append(table);
    item.append(wrap);

    const files = element("div", "files");
    const actions = element("div", "actions");
    const personName = person.name || person.preEnrollmentCode;
    actions.append(
      actionButton("View PDF", "view-pdf", personName, () => fetchFile(person, "pdf", files, "view")),
      actionButton("Download PDF", "download-pdf", personName, () => fetchFile(person, "pdf", files, "download")),
      actionButton("Download QR code", "download-qr", personName, () => fetchFile(person, "png", files, "download")),
      actionButton("Create share link", "share", personName, () => createShareLink(person, files)));
    item.append(actions, emailForm(person), files);
    return item;
  }

  function actionButton(label, className, personName, handler) {
    const button = element("button", className, label);
    button.type = "button";
    button.setAttribute("aria-label", label + " for " + personName);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await handler();
      } finally {
        button.disabled = false;
      }
    });
    return button;
  }

  function emailForm(person) {
    const form = element("form", "email");
    form.noValidate = true;
    const inputId = "email-" + person.preEnrollmentCode;
    const label = element("label", null, "Email address to send the certificate to");
    label.htmlFor = inputId;
    const input = element("input");
    input.id = inputId;
    input.type = "email";
    input.autocomplete = "email";
    input.required = true;
    const button = element("button", "send-email", "Send by email");
    button.type = "submit";
    form.append(label, input, button);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const to = input.value.trim();
      if (!/^[^\s@]+@[^\s@]+$/.test(to)) {
        say("Enter an email address such as name@example.org.", true);
        input.focus();
        return;
      }
      button.disabled = true;
      try {
        const response = await call("POST", "/email", {
          certificateId: person.certificateId,
          to: to,
          language: language.value,
        });
        if (response.status === 404 || response.status === 405) {
          say("Sending by email is not available on this server.", true);
        } else if (!response.ok) {
          say("The email could not be sent: " + (await errorText(response)), true);
        } else {
          say("The certificate was sent to " + to + ".");
        }
      } catch (error) {
        say("The email could not be sent: the server is not reachable.", true);
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  // Fetches the PDF or QR PNG with the bearer token and offers it through an
  // object URL, so the token never appears in a URL or the browser history.
  async function fetchFile(person, kind, files, mode) {
    const id = encodeURIComponent(person.certificateId);
    const path = kind === "pdf"
      ? "/certificatePDF?certificateId=" + id + "&language=" + encodeURIComponent(language.value)
      : "/certificate/QRCode/" + id;
    say(kind === "pdf" ? "Fetching the PDF…" : "Fetching the QR code…");
    let response;
    try {
      response = await call("GET", path);
    } catch (error) {
      say("The file could not be fetched: the server is not reachable.", true);
      return;
    }
    if (!response.ok) {
      say("The file could not be fetched: " + (await errorText(response)), true);
      return;
    }
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    objectUrls.push(url);
    const name = "certificate-" + person.certificateId + "." + kind;
    const link = element("a", kind === "pdf" ? "pdf-file" : "qr-file",
      (mode === "view" ? "Open " : "Save ") + name);
    link.href = url;
    if (mode === "view") {
      link.target = "_blank";
      link.rel = "noopener";
    } else {
      link.download = name;
    }
    files.querySelectorAll("a." + link.className.split(" ")[0]).forEach((old) => old.remove());
    files.append(link);
    link.click();
    say(name + " is ready. If nothing opened, use the link under the buttons.");
  }

  async function createShareLink(person, files) {
    say("Creating a share link…");
    let response;
    try {
      response = await call("POST", "/share", {
        certificateId: person.certificateId,
        language: language.value,
      });
    } catch (error) {
      say("The share link could not be created: the server is not reachable.", true);
      return;
    }
    if (response.status === 404 || response.status === 405) {
      say("Share links are not available on this server.", true);
      return;
    }
    if (!response.ok) {
      say("The share link could not be created: " + (await errorText(response)), true);
      return;
    }
    const body = await response.json();
    const link = element("a", "share-link", body.url);
    link.href = body.url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    files.querySelectorAll("a.share-link").forEach((old) => old.remove());
    files.append(link);
    say("Share link created" + (body.expiresAt ? ", valid until " + body.expiresAt : "") + ".");
  }
  start();
})();
