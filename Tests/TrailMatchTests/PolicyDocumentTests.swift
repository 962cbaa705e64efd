import Testing
@testable import TrailPolicy

@Suite struct PolicyDocumentTests {
    func policy(_ text: String) throws -> PolicyDocument { try PolicyDocument(Array(text.utf8)) }
    func trusts(_ principal: String, condition: String = "", account: String = "111122223333", trusted: Set<String> = []) throws -> [String] {
        let document = #"{"Statement":[{"Effect":"Allow","Principal":\#(principal),"Action":"sts:AssumeRole"\#(condition)}]}"#
        return try policy(document).externalTrusts(account: account, trusted: trusted).map { trust in
            (trust.account ?? "*") + (trust.restrictedBy.isEmpty ? "" : " if " + trust.restrictedBy.joined(separator: ","))
        }
    }

    @Test func everyShapeOfPrincipal() throws {
        #expect(try trusts(#""*""#) == ["*"])
        #expect(try trusts(#"{"AWS":"*"}"#) == ["*"])
        #expect(try trusts(#"{"AWS":"444455556666"}"#) == ["444455556666"])
        #expect(try trusts(#"{"AWS":"arn:aws:iam::444455556666:root"}"#) == ["444455556666"])
        #expect(try trusts(#"{"AWS":"arn:aws-us-gov:iam::444455556666:role/ci"}"#) == ["444455556666"])
        #expect(try trusts(#"{"AWS":"arn:aws:sts::444455556666:assumed-role/r/s"}"#) == ["444455556666"])
        #expect(try trusts(#"{"AWS":["arn:aws:iam::111122223333:root","555566667777","AROAUNIQUEID"]}"#) == ["555566667777"])
        #expect(try trusts(#"{"AWS":"111122223333"}"#) == [])
        #expect(try trusts(#"{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]}"#) == [])
        #expect(try trusts(#"{"Federated":"arn:aws:iam::111122223333:saml-provider/okta"}"#) == [])
        #expect(try trusts(#"{"AWS":"444455556666","Service":"ec2.amazonaws.com"}"#) == ["444455556666"])
        #expect(try trusts(#"{"AWS":"444455556666"}"#, trusted: ["444455556666"]) == [])
        #expect(try trusts(#"{"AWS":"444455556666"}"#, account: "") == ["444455556666"])
    }

    @Test func conditionsThatRestrictTheTrust() throws {
        #expect(try trusts(#""*""#, condition: #","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}"#) == ["* if aws:PrincipalOrgID"])
        #expect(try trusts(#"{"AWS":"444455556666"}"#, condition: #","Condition":{"StringEquals":{"sts:ExternalId":"x"}}"#) == ["444455556666 if sts:ExternalId"])
        #expect(try trusts(#""*""#, condition: #","Condition":{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-1/*"}}"#) == ["* if aws:PrincipalOrgPaths"])
        // IfExists passes when the key is missing; Null only tests presence; other keys do not narrow who.
        #expect(try trusts(#""*""#, condition: #","Condition":{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-1"}}"#) == ["*"])
        #expect(try trusts(#""*""#, condition: #","Condition":{"Null":{"sts:ExternalId":"false"}}"#) == ["*"])
        #expect(try trusts(#""*""#, condition: #","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#) == ["*"])
    }

    @Test func statementsAsObjectOrListAndDenyAndNotPrincipal() throws {
        let single = try policy(#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"sts:AssumeRole"}}"#)
        #expect(single.externalTrusts(account: "111122223333", trusted: []).map(\.principal) == ["444455556666"])
        let deny = try policy(#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}"#)
        #expect(deny.externalTrusts(account: "111122223333", trusted: []).isEmpty)
        let notPrincipal = try policy(#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}]}"#)
        #expect(notPrincipal.externalTrusts(account: "111122223333", trusted: []).map(\.principal) == ["*"])
    }

    @Test func adminGrants() throws {
        func grants(_ statement: String) throws -> [String] { try policy(#"{"Statement":[\#(statement)]}"#).adminGrants().map(\.how) }
        #expect(try grants(#"{"Effect":"Allow","Action":"*","Resource":"*"}"#) == [#"Action "*" on Resource "*""#])
        #expect(try grants(#"{"Effect":"Allow","Action":["s3:GetObject","*:*"],"Resource":["*"]}"#) == [#"Action "*" on Resource "*""#])
        #expect(try grants(#"{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}"#) == [#"every action but iam:*, organizations:* on Resource "*""#])
        #expect(try grants(#"{"Effect":"Allow","Action":"*","NotResource":"arn:aws:s3:::audit/*"}"#) == [#"Action "*" on every resource but arn:aws:s3:::audit/*"#])
        #expect(try grants(#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#) == [])
        #expect(try grants(#"{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/*"}"#) == [])
        #expect(try grants(#"{"Effect":"Deny","Action":"*","Resource":"*"}"#) == [])
        let conditioned = try policy(#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#)
        #expect(conditioned.adminGrants().map(\.conditions) == [["aws:MultiFactorAuthPresent"]])
    }

    @Test func aDocumentWithoutStatementsGrantsNothing() throws {
        let empty = try policy("{}")
        #expect(empty.adminGrants().isEmpty && empty.externalTrusts(account: nil, trusted: []).isEmpty)
    }

    @Test func urlEncodedDocuments() throws {
        let encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D"
        #expect(try policy(encoded).adminGrants().count == 1)
        // A document that merely contains a % is not decoded.
        #expect(try policy(#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/100%25"}]}"#).statements[0].resources == ["arn:aws:s3:::b/100%25"])
    }

    @Test(arguments: [
        (#"{"Statement":[{"Effect":"Allow","#, "the policy document is not valid JSON: "),
        (#"[1]"#, "the policy document is not a JSON object"),
        (#"{"Statement":"x"}"#, "the policy document's Statement is neither an object nor a list"),
        (#"{"Statement":[{"Action":"*"}]}"#, "statement 0 has no Effect of Allow or Deny"),
        (#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":5}}]}"#, "statement 0: Principal AWS is not a string or a list of strings"),
        (#"{"Statement":[{"Effect":"Allow","Action":{"a":1}}]}"#, "statement 0: Action is not a string or a list of strings"),
    ])
    func invalidDocumentsSayWhy(_ text: String, _ message: String) {
        #expect {
            try policy(text)
        } throws: { error in
            (error as? PolicyDocument.Error)?.description.hasPrefix(message) == true
        }
    }
}
