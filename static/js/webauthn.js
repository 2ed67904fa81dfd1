// Security keys (WebAuthn): register a key on the two-factor page, sign in with one on the
// code page. The server gives the options (JSON, with a challenge) and checks the answer; this
// script only passes them between the server and the browser's key. No inline script (CSP).
"use strict";
(function () {
  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: body === undefined ? "{}" : JSON.stringify(body),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (error) {
      data = {};
    }
    return { ok: response.ok, data: data };
  }

  async function run(button) {
    const mode = button.dataset.webauthn;
    const errorBox = document.getElementById(button.dataset.error);
    const say = function (text) {
      if (errorBox) errorBox.textContent = text || "";
    };
    if (
      !window.PublicKeyCredential ||
      !PublicKeyCredential.parseCreationOptionsFromJSON ||
      !window.isSecureContext
    ) {
      say(errorBox ? errorBox.dataset.unsupported : "");
      return;
    }
    say("");
    button.disabled = true;
    try {
      const options = await post(button.dataset.optionsUrl);
      if (!options.ok) {
        if (options.data.redirect) window.location.assign(options.data.redirect);
        return;
      }
      let credential;
      if (mode === "register") {
        const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.data);
        credential = await navigator.credentials.create({ publicKey: publicKey });
      } else {
        const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.data);
        credential = await navigator.credentials.get({ publicKey: publicKey });
      }
      const nameInput = document.getElementById(button.dataset.nameInput || "");
      const answer = await post(button.dataset.submitUrl, {
        credential: credential.toJSON(),
        name: nameInput ? nameInput.value : "",
      });
      if (answer.data.redirect) {
        window.location.assign(answer.data.redirect);
        return;
      }
      say(answer.data.error || "");
    } catch (error) {
      // The person cancelled, the key timed out, or it is registered already.
      say(errorBox ? errorBox.dataset.failed || String(error.message || error) : "");
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-webauthn]").forEach(function (button) {
      button.addEventListener("click", function () {
        run(button);
      });
    });
  });
})();
